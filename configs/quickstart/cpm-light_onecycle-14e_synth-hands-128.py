# `make quickstart`: the light CPM of cpm-light_synth-hands-128.py on generated hands, trained in
# about 3.5 minutes on 2 CPU cores instead of 8 (README "Set up, quick start, tests"):
# * bf16 autocast where the CPU has native bf16 (AVX-512 BF16 / AMX: 1.7x the fp32 training step
#   on this model); float32 elsewhere, where emulated bf16 would be slower;
# * a one-cycle schedule (warm-up to a 6x higher peak learning rate, cosine decay), which reaches
#   in 14 epochs about the step schedule reached in 20 (README table of the schedule runs);
# * validation only halfway and at the end.
# The other configs that start from the light CPM keep its 20-epoch step schedule.
_base_ = ['./cpm-light_synth-hands-128.py']

max_epochs = 14
optim_wrapper = dict(type='BF16AutocastOptimWrapper', only_if_native=True,
                     optimizer=dict(type='Adam', lr=1.2e-2))
param_scheduler = [dict(type='OneCycleLR', eta_max=1.2e-2, pct_start=0.25, by_epoch=True, begin=0,
                        end=max_epochs, convert_to_iter_based=True)]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=7)
default_hooks = dict(checkpoint=dict(interval=7))
