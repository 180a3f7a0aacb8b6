# DGGAN stage 3 of 4, generated hands: pix2pix (ResNet-9 generator RGB -> depth, PatchGAN on
# cat[RGB, depth], image pool 50, BCE-with-logits), Adam 1e-4 (0.5, 0.999) for both; starts from
# stage 2. Next: _stage4-joint.py.
_base_ = ['./_dggan_cpm-light_synth-hands-128.py']
from poseforge.models.dggan.stages import last_checkpoint

_adam = dict(optimizer=dict(type='Adam', lr=1e-4, betas=(0.5, 0.999)))
model = dict(stage='gan')
optim_wrapper = dict(_delete_=True, constructor='MultiOptimWrapperConstructor',
                     generator=_adam, discriminator=_adam)
train_cfg = dict(by_epoch=True, max_epochs=5, val_interval=5)
load_from = last_checkpoint('work_dirs/dggan_cpm-light_synth-hands-128_stage2-regularizer',
                            'configs/dggan/dggan_cpm-light_synth-hands-128_stage2-regularizer.py')
