# R-MGMN, paper-shaped: VGG19 unary CPM (six 7x7 stages) and a VGG19 pairwise branch (six
# stages, 3 models x 40 kernels of 45x45 at the 46x46 grid, as AGMN), a small rotation net on
# stride-8 features, on generated hands at 368x368.
# One run trains everything with every loss. For AGMN's staged schedule override per stage:
#   --cfg-options model.backbone.train_stage=unary model.head.marginal_weight=0
#                 model.head.kernel_weight=0                            (stage 1)
#   ... train_stage=pairwise model.head.unary_weight=0 load_from=<stage 1 ckpt>   (stage 2)
#   ... train_stage=joint, lr 1e-5, load_from=<stage 2 ckpt>                      (stage 3)
_base_ = ['../cpm/cpm_vgg19_synth-hands-368.py', '../_base_/models/rmgmn_hand21.py']

model = dict(
    backbone=dict(_delete_=True, **_base_.rmgmn_backbone, unary=dict(arch='vgg19', num_stages=6),
                  pairwise=dict(arch='vgg19', num_stages=6), kernel_size=45, train_stage=None),
    head=dict(_delete_=True, **_base_.rmgmn_head, decoder=_base_.codec, unary_weight=1.0,
              marginal_weight=_base_.marginal_scale, kernel_weight=1.0, rotation_weight=1.0),
)
