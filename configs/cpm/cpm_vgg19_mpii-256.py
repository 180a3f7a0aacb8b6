# CPM (VGG19 trunk, six stages) on MPII: 256x256 crops -> 32x32 heatmaps (stride 8), sigma 2
# (mmpose's CPM heatmap width); flip test on (flip_indices from the mpii16 skeleton via each
# sample's meta). mmpose's 210-epoch Adam 5e-4 schedule with warm-up.
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/adam_210e.py',
          '../_base_/models/cpm_vgg19_368.py',
          '../_base_/datasets/mpii.py']
from poseforge.datasets.transforms.presets import topdown_pipelines

codec = dict(type='MSRAHeatmap', input_size=(256, 256), heatmap_size=(32, 32), sigma=2.0)
model = dict(backbone=dict(num_keypoints=16), head=dict(decoder=codec),
             test_cfg=dict(flip_test=True))
# No photometric augmentation and no box shift, as mmpose's MPII configs.
train_pipeline, test_pipeline = topdown_pipelines(codec, padding=1.25, photometric=False,
                                                  shift_prob=0.0)
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
