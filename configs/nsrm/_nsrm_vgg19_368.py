# NSRM base, the paper's settings (Chen et al., WACV 2020; HowieMa/NSRMhand): the hand CPM's VGG19
# trunk, 368x368 crops -> 46x46 maps (Gaussian sigma 1 cell), 3 limb-mask stages + 3 keypoint
# stages, Adam 1e-4, batch 32, 80 epochs at a constant learning rate (the original halves it
# every 100 epochs: never within 80), limb-loss weight x0.1 every 20 epochs.
# Leaves choose the mask type / grouping (model.backbone.limb_channels + model.head) and the
# dataset (a second _base_ from configs/_base_/datasets/), then set each dataloader's pipeline.
# The original starts from ImageNet VGG19 weights: pass a torchvision-layout file with
#   --cfg-options model.backbone.pretrained=path/to/vgg19.pth
# Evaluation: each leaf adds the paper's own PCK (_base_/datasets/_nsrm_pck.py) to its dataset's
# metrics. It trains without augmentation; these pipelines use the CPM configs' (flip, rotation,
# photometric) so that the comparison with CPM isolates the structure regularisation.
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/adam_step.py',
          '../_base_/codecs/msra_368.py', '../_base_/datasets/_nsrm_pck.py']
from poseforge.datasets.transforms.presets import topdown_pipelines

model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor'),
    backbone=dict(type='NSRM', arch='vgg19', num_keypoints=21, limb_channels=7,
                  num_limb_stages=3, num_keypoint_stages=3),
    head=dict(type='NSRMHead', mask_type='lpm', grouping='G1&6', limb_weight=0.1, g6_weight=0.2,
              limb_sigma=1.0, ldm_width=1.0,
              # the original sums the MSE over the 21 maps (keeps w's meaning), as CPM's
              loss=dict(type='KeypointMSELoss', keypoint_reduction='sum'), decoder=_base_.codec),
    test_cfg=dict(flip_test=False),
)

# NSRMHead builds the limb targets from the exact keypoints in `meta['transformed_keypoints']`
# (packed by default; the estimator hands the head the batch).


# NSRM's crop: a square of 2.2x the tight keypoint box. OneHand10K's boxes are 1.2x that box
# (its CSV rule; mmpose's json boxes about the same), CMU Panoptic's the tight box (+1 px): the
# paddings of configs/cpm/cpm_vgg19_{onehand10k,panoptic-hand}-368.py.
# The augmentation of the CPM configs (configs/cpm/cpm_vgg19_*-368.py): NSRM and its baseline
# see the same data.
onehand10k_train_pipeline, onehand10k_test_pipeline = topdown_pipelines(
    _base_.codec, padding=2.2 / 1.2, rotate_factor=60.0)
panoptic_train_pipeline, panoptic_test_pipeline = topdown_pipelines(
    _base_.codec, padding=2.2, rotate_factor=60.0)

optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4))
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[100], gamma=0.5)]
train_cfg = dict(by_epoch=True, max_epochs=80, val_interval=5)
custom_hooks = [dict(type='CurveHistoryHook', interval=10),
                dict(type='LimbWeightDecayHook', interval=20, ratio=0.1)]
