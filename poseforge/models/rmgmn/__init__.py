"""R-MGMN (rotation-invariant mixed graphical model network, after AGMN), everything in one
place: the backbone with its rotation net, unary and pairwise branches and model pool
(:mod:`.backbone`), the head and its four losses (:mod:`.head`), the hand-angle geometry
(:mod:`.geometry`) and tree belief propagation (:mod:`.belief_propagation`). Importing this
package registers ``RMGMN`` and ``RMGMNHead`` (``MODELS``)."""
from poseforge.models.rmgmn.backbone import RMGMN, PairwiseBranch, RotationNet
from poseforge.models.rmgmn.belief_propagation import (PROB_FLOOR, TreeSchedule,
                                                       symmetric_edge_kernels,
                                                       tree_belief_propagation, tree_schedule)
from poseforge.models.rmgmn.geometry import (as_cos_sin, hand_angle, heatmap_centre,
                                             rotate_maps, rotation_matrices)
from poseforge.models.rmgmn.head import RMGMNHead, kernel_targets

__all__ = ['PROB_FLOOR', 'PairwiseBranch', 'RMGMN', 'RMGMNHead', 'RotationNet', 'TreeSchedule',
           'as_cos_sin', 'hand_angle', 'heatmap_centre', 'kernel_targets', 'rotate_maps',
           'rotation_matrices', 'symmetric_edge_kernels', 'tree_belief_propagation',
           'tree_schedule']
