# DGGAN stage2 (regularizer) on RHD: the depth regulariser alone on ground-truth (pose, depth)
# pairs.
_base_ = ['./_dggan_cpm-vgg19_rhd-256.py', '../_base_/schedules/dggan_stage2-regularizer.py']
from poseforge.models.dggan.stages import last_checkpoint

model = dict(stage='regularizer')
load_from = last_checkpoint('work_dirs/dggan_cpm-vgg19_rhd-256_stage1-pose',
                            'configs/dggan/dggan_cpm-vgg19_rhd-256_stage1-pose.py')
