# DGGAN stage3 (gan) on RHD: pix2pix (generator + discriminator, image pool 50).
_base_ = ['./_dggan_cpm-vgg19_rhd-256.py', '../_base_/schedules/dggan_stage3-gan.py']
from poseforge.models.dggan.stages import last_checkpoint

model = dict(stage='gan')
load_from = last_checkpoint('work_dirs/dggan_cpm-vgg19_rhd-256_stage2-regularizer',
                            'configs/dggan/dggan_cpm-vgg19_rhd-256_stage2-regularizer.py')
