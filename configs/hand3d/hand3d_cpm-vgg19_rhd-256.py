# The 3D hand estimator (no regulariser) on RHD at DGGAN's sizes: VGG19 CPM 256 -> 32 + the
# relative-depth head. 3D protocol (hand3d / DGGAN): root-relative to the wrist, the 3D rebuilt
# with the ground-truth root depth and bone length (metric names end in
# /wrist/gt-root-depth+bone), AUC 20-50 mm; also without them (/no-gt). DGGAN's augmentation.
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/adam_step.py',
          '../_base_/datasets/rhd.py', '../_base_/datasets/_hand_3d_metrics.py',
          '../_base_/datasets/_dggan_augmentation.py', '../_base_/models/hand3d_cpm-vgg19_256.py']
from poseforge.datasets.transforms.presets import topdown_3d_pipelines

train_pipeline, test_pipeline = topdown_3d_pipelines(_base_.codec, _base_.depth_codec,
                                                     padding=1.25, **_base_.dggan_augmentation)
# the release's pickles, as configs/dggan/_dggan_cpm-vgg19_rhd-256.py (whose depth PNGs sit in
# that layout), so that the two models train and are evaluated on the same hands
train_dataloader = dict(dataset=dict(ann_file='training/anno_training.pickle',
                                     pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(ann_file='evaluation/anno_evaluation.pickle',
                                   pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = _base_.hand3d_evaluator
test_evaluator = val_evaluator
