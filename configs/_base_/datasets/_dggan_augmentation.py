# DGGAN's training augmentation (early code, config/ICCV/weakly_gan.yaml): the hand crop
# resized to the input, no flip, each colour channel scaled by U(0.8, 1.2). Leaves pass these to
# poseforge.datasets.transforms.presets.topdown_3d_pipelines.
dggan_augmentation = dict(
    flip=False,
    photometric=[dict(type='MultiplicativeNoise', multiplier=(0.8, 1.2), per_channel=True,
                      elementwise=False, p=1.0)],
    shift_prob=0.0, scale_prob=0.0, rotate_prob=0.0,
)
