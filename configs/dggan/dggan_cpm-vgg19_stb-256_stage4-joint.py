# DGGAN stage4 (joint) on STB: all four networks; L_G = L_GAN + 10 task, task L1 target the
# generated depth.
_base_ = ['./_dggan_cpm-vgg19_stb-256.py', '../_base_/schedules/dggan_stage4-joint.py']
from poseforge.models.dggan.stages import last_checkpoint

model = dict(stage='joint')
load_from = last_checkpoint('work_dirs/dggan_cpm-vgg19_stb-256_stage3-gan',
                            'configs/dggan/dggan_cpm-vgg19_stb-256_stage3-gan.py')
