"""Drawing keypoints and plotting training curves."""
from .draw import draw_pose, prediction_grid
from .plots import plot_curves

__all__ = ['draw_pose', 'prediction_grid', 'plot_curves']
