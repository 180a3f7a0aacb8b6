# CPM (VGG19 trunk, six stages) on COCO person keypoints: 256x192 crops -> 32x24 heatmaps
# (stride 8), sigma 2 as mmpose's td-hm_cpm_8xb64-210e_coco-256x192; flip test on
# (flip_indices from the coco17 skeleton via each sample's meta). mmpose's 210-epoch Adam 5e-4
# schedule (x0.1 at 170 and 200) with warm-up.
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/adam_210e.py',
          '../_base_/models/cpm_vgg19_368.py',
          '../_base_/datasets/coco.py']
from poseforge.datasets.transforms.presets import topdown_pipelines

codec = dict(type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(24, 32), sigma=2.0)
model = dict(backbone=dict(num_keypoints=17), head=dict(decoder=codec),
             test_cfg=dict(flip_test=True))
# mmpose's COCO recipe: default random box transform, no photometric augmentation.
train_pipeline, test_pipeline = topdown_pipelines(codec, padding=1.25, photometric=False)
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

auto_scale_lr = dict(base_batch_size=512)  # mmpose's 8 x 64
