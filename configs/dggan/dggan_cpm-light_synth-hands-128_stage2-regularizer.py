# DGGAN stage 2 of 4, generated hands: the depth regulariser alone, L1 between the rendering of
# the ground-truth pose and the real (generated) depth map; starts from stage 1's checkpoint so
# that the pose network travels on. Next: _stage3-gan.py.
_base_ = ['./_dggan_cpm-light_synth-hands-128.py',
          '../_base_/schedules/dggan_stage2-regularizer.py']
from poseforge.models.dggan.stages import last_checkpoint

model = dict(stage='regularizer')
optim_wrapper = dict(regularizer=dict(optimizer=dict(lr=1e-3)))
train_cfg = dict(max_epochs=5, val_interval=5)
load_from = last_checkpoint('work_dirs/dggan_cpm-light_synth-hands-128_stage1-pose',
                            'configs/dggan/dggan_cpm-light_synth-hands-128_stage1-pose.py')
