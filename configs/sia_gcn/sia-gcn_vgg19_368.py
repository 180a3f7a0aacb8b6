# SIA-GCN on the NSRM authors' hand CPM (VGG19 trunk, six 7x7 stages), 368 -> 46x46 maps, on
# generated hands: the refined maps are a seventh supervised output.
_base_ = ['../cpm/cpm_vgg19_synth-hands-368.py']

model = dict(
    backbone=dict(type='SIAGCN', skeleton='hand21', num_rounds=2, kernel_size=7,
                  activation='relu', normalize=True, kernel_init_std=0.0),
)
