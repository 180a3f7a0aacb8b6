# DGGAN stage 4 of 4, generated hands: everything together. D step, then one G step updating
# the generator, the pose network and the regulariser with
# L_GAN + 10 (heatmap MSE + 0.1 SmoothL1(depth) + L1(regulariser(pose), generated depth)).
# regularizer_target='real' is the early code's choice (L1 to the real depth map).
_base_ = ['./_dggan_cpm-light_synth-hands-128.py', '../_base_/schedules/dggan_stage4-joint.py']
from poseforge.models.dggan.stages import last_checkpoint

model = dict(stage='joint', regularizer_target='generated')
train_cfg = dict(max_epochs=10, val_interval=5)
load_from = last_checkpoint('work_dirs/dggan_cpm-light_synth-hands-128_stage3-gan',
                            'configs/dggan/dggan_cpm-light_synth-hands-128_stage3-gan.py')
