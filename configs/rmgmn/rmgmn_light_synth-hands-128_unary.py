# R-MGMN, light variant, stage 1 of 3 (AGMN's schedule: unary, pairwise, joint fine-tune):
# the unary CPM and the rotation net train; the pairwise branch is frozen and not run.
# 128x128 crops -> 16x16 maps; 11x11 edge kernels (radius 5 cells = 40 px, enough for the
# longest hand limb in these crops); a pool of 3 graphical models.
# Next: rmgmn_light_synth-hands-128_pairwise.py (loads this stage's last checkpoint).
_base_ = ['../quickstart/cpm-light_synth-hands-128.py']

codec = dict(type='MSRAHeatmap', input_size=(128, 128), heatmap_size=(16, 16), sigma=1.0)

model = dict(
    backbone=dict(
        _delete_=True,
        type='RMGMN',
        unary=dict(arch='light_s8'),
        pairwise=dict(arch='light_s8'),
        num_keypoints=21,
        skeleton='hand21',
        kernel_size=11,
        num_models=3,
        use_rotation=True,
        rotation=dict(channels=64),
        angle_joints=(0, 9),
        train_stage='unary'),
    head=dict(
        _delete_=True,
        type='RMGMNHead',
        loss=dict(type='KeypointMSELoss'),
        decoder=codec,
        unary_weight=1.0,
        marginal_weight=0.0,
        kernel_weight=0.0,
        rotation_weight=1.0,
        kernel_sigmas=(1.0, 2.0, 3.0),
        skeleton='hand21',
        angle_joints=(0, 9)),
)
