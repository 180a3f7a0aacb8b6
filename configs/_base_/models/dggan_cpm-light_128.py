# DGGAN scaled for CPU runs: the light 3D estimator (128x128 crops, 16x16 heatmaps) as the pose
# network, and every depth map at 64x64: a ResNet-9 generator with ngf 16, a 3-layer PatchGAN
# with ndf 16 (instance norm), a depth regulariser 63 -> 128 -> 128 -> 64 -> 32 -> 1
# (4 -> 64 px). configs/_base_/models/dggan_cpm-vgg19_256.py has the paper's sizes.
_base_ = ['./hand3d_cpm-light_128.py']

depth_size = (64, 64)
model = dict(
    _delete_=True,
    type='DGGAN',
    data_preprocessor=dict(type='PoseDataPreprocessor'),
    pose_net={{_base_.model}},
    generator=dict(type='ResnetGenerator', in_channels=3, out_channels=1, ngf=16, num_blocks=9,
                   norm='batch'),
    discriminator=dict(type='PatchDiscriminator', in_channels=4, ndf=16, num_layers=3,
                       norm='instance'),
    regularizer=dict(type='DepthRegularizer', num_keypoints=21, channels=(128, 128, 64, 32)),
    gan_loss=dict(type='GANLoss', mode='vanilla'),
    pool_size=50,
    depth_size=depth_size,
    stage='joint',
    gan_weight=1.0, task_weight=10.0, regularizer_weight=1.0, gan_l1_weight=0.0,
    regularizer_target='generated', regularizer_uv='gt',
)
