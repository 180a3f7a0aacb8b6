# SIA-GCN on the quick-start light CPM: 128x128 crops -> 16x16 maps, then two rounds of spatial
# graph convolution (7x7 kernels per directed limb) on the last stage's 21 maps. The head
# supervises the three CPM stages and the refined maps, and predicts from the refined ones.
_base_ = ['../quickstart/cpm-light_synth-hands-128.py']

model = dict(
    backbone=dict(type='SIAGCN', skeleton='hand21', num_rounds=2, kernel_size=7,
                  activation='relu', normalize=True, kernel_init_std=0.0),
)
