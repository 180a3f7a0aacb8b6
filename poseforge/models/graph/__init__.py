"""Graphical-model building blocks for structure-aware heatmap models (R-MGMN, SIA-GCN)."""
from poseforge.models.graph.belief_propagation import (PROB_FLOOR, TreeSchedule, directed_edges,
                                                       reverse_edge_index, spatial_convolution,
                                                       symmetric_edge_kernels,
                                                       tree_belief_propagation, tree_schedule)

__all__ = ['PROB_FLOOR', 'TreeSchedule', 'directed_edges', 'reverse_edge_index',
           'spatial_convolution', 'symmetric_edge_kernels', 'tree_belief_propagation',
           'tree_schedule']
