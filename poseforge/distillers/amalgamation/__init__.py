"""Knowledge amalgamation: teachers of keypoint-subset tasks merged into one student
(:class:`AmalgamationDistiller`), its losses, and task-subset training / metrics."""
from poseforge.distillers.amalgamation import distiller, losses, tasks
from poseforge.distillers.amalgamation.distiller import AmalgamationDistiller
from poseforge.distillers.amalgamation.losses import (CommonFeatureBlock, heatmap_ambiguity,
                                                      multi_kernel_mmd, reconstruction_mse,
                                                      select_targets)
from poseforge.distillers.amalgamation.tasks import (HAND_FINGER_TASKS, MaskKeypoints,
                                                     TaskPCKAccuracy, task_pck,
                                                     union_of_teachers)

__all__ = ['distiller', 'losses', 'tasks', 'AmalgamationDistiller', 'CommonFeatureBlock',
           'heatmap_ambiguity', 'multi_kernel_mmd', 'reconstruction_mse', 'select_targets',
           'HAND_FINGER_TASKS', 'MaskKeypoints', 'TaskPCKAccuracy', 'task_pck',
           'union_of_teachers']
