# NSRM (LPM, G1&6) with the quick start's light trunk on generated hands: the CPU comparison with
# configs/quickstart/cpm-light_synth-hands-128.py, which it inherits (data, 128x128 crops -> 16x16
# maps, augmentation, optimiser and schedule). Only the model differs: 3 limb + 3 keypoint stages
# of the light design instead of 3 keypoint stages, and the limb weight decays x0.1 every 5 of
# the 20 epochs (the original: every 20 of 80).
_base_ = ['../quickstart/cpm-light_synth-hands-128.py']


model = dict(
    backbone=dict(_delete_=True, type='NSRM', arch='light_s8', num_keypoints=21, limb_channels=7,
                  num_limb_stages=3, num_keypoint_stages=3),
    head=dict(_delete_=True, type='NSRMHead', mask_type='lpm', grouping='G1&6', limb_weight=0.1,
              g6_weight=0.2, limb_sigma=1.0,
              # the original sums the MSE over the 21 maps (keeps w's meaning), as CPM's
              loss=dict(type='KeypointMSELoss', keypoint_reduction='sum'),
              decoder=_base_.codec),
)

# NSRMHead builds the limb targets from the exact keypoints in `meta['transformed_keypoints']`
# (packed by default; the estimator hands the head the batch).

custom_hooks = _base_.custom_hooks + [dict(type='LimbWeightDecayHook', interval=5, ratio=0.1)]
