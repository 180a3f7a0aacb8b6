# DGGAN stage 3 of 4, generated hands: pix2pix (ResNet-9 generator RGB -> depth, PatchGAN on
# cat[RGB, depth], image pool 50, BCE-with-logits), Adam 1e-4 (0.5, 0.999) for both; starts from
# stage 2. Next: _stage4-joint.py.
_base_ = ['./_dggan_cpm-light_synth-hands-128.py', '../_base_/schedules/dggan_stage3-gan.py']
from poseforge.models.dggan.stages import last_checkpoint

model = dict(stage='gan')
train_cfg = dict(max_epochs=5, val_interval=5)
load_from = last_checkpoint('work_dirs/dggan_cpm-light_synth-hands-128_stage2-regularizer',
                            'configs/dggan/dggan_cpm-light_synth-hands-128_stage2-regularizer.py')
