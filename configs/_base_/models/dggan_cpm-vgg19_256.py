# DGGAN at the paper's / early code's sizes: the VGG19 CPM 3D estimator on 256x256 crops
# (32x32 heatmaps) as the pose network; every depth map 128x128; ResNet-9 generator (ngf 64,
# BatchNorm, tanh); 3-layer PatchGAN (ndf 64, InstanceNorm) on cat[RGB, depth]; depth
# regulariser 63 -> 512 (k4 s4) -> 512 -> 256 -> 128 -> 64 -> 1 (k2 s2), 1 -> 128 px.
_base_ = ['./hand3d_cpm-vgg19_256.py']

depth_size = (128, 128)
model = dict(
    _delete_=True,
    type='DGGAN',
    data_preprocessor=dict(type='PoseDataPreprocessor'),
    pose_net={{_base_.model}},
    generator=dict(type='ResnetGenerator', in_channels=3, out_channels=1, ngf=64, num_blocks=9,
                   norm='batch'),
    discriminator=dict(type='PatchDiscriminator', in_channels=4, ndf=64, num_layers=3,
                       norm='instance'),
    regularizer=dict(type='DepthRegularizer', num_keypoints=21,
                     channels=(512, 512, 256, 128, 64)),
    gan_loss=dict(type='GANLoss', mode='vanilla'),
    pool_size=50,
    depth_size=depth_size,
    stage='joint',
    gan_weight=1.0, task_weight=10.0, regularizer_weight=1.0, gan_l1_weight=0.0,
    regularizer_target='generated', regularizer_uv='gt',
)
