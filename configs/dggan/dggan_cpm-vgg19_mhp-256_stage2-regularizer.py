# DGGAN stage2 (regularizer) on MHP: the depth regulariser alone on ground-truth (pose, depth)
# pairs. On RHD (MHP has no depth).
_base_ = ['./_dggan_cpm-vgg19_rhd-256.py', '../_base_/schedules/dggan_stage2-regularizer.py']
from poseforge.models.dggan.stages import last_checkpoint

model = dict(stage='regularizer')
load_from = last_checkpoint('work_dirs/dggan_cpm-vgg19_mhp-256_stage1-pose',
                            'configs/dggan/dggan_cpm-vgg19_mhp-256_stage1-pose.py')
