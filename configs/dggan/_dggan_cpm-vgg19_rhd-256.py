# DGGAN on RHD at the paper's sizes (configs/_base_/models/dggan_cpm-vgg19_256.py), DGGAN's
# augmentation (no flip, colour scaling), batch 2 as the early code. RHD's depth PNGs (hand3d's
# decoding, metres -> mm) are found beside the colour images ('/color/' -> '/depth/' in the
# image path: the release layout). 3D protocol: wrist root, ground-truth root depth and bone
# length granted (names .../wrist/gt-root-depth+bone) and not (/no-gt). Shared by the stage
# configs beside this file.
_base_ = ['../_base_/default_runtime.py', '../_base_/datasets/rhd.py',
          '../_base_/datasets/_hand_3d_metrics.py', '../_base_/datasets/_dggan_augmentation.py',
          '../_base_/models/dggan_cpm-vgg19_256.py']
from poseforge.datasets.transforms.presets import topdown_3d_pipelines

train_pipeline, test_pipeline = topdown_3d_pipelines(
    _base_.codec, _base_.depth_codec, padding=1.25, depth_format='rhd',
    depth_from_image_path=('/color/', '/depth/'), depth_map_size=_base_.depth_size,
    **_base_.dggan_augmentation)
train_dataloader = dict(batch_size=2, dataset=dict(
    ann_file='training/anno_training.pickle', pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(ann_file='evaluation/anno_evaluation.pickle',
                                   pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = _base_.hand3d_evaluator
test_evaluator = val_evaluator
