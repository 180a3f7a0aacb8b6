# The data-path benchmark (tools/benchmark.py pipeline, `make bench`): mmpose 1.x's top-down hand
# training pipeline (random flip, random scale 0.7-1.3 / rotation / shift, affine crop, Gaussian
# targets, packing) plus photometric augmentation, on the OneHand10K images in the shared
# fixtures (the same files the mmpose figures in docs/benchmarks.md were measured on), decoded
# as poseforge's training presets do (only the JPEG region the crop reads, at reduced size when
# the crop allows it). The
# rows compared with mmpose set the photometric step to nothing
# (--step-options PhotometricAug.transforms=[]) or to mmpose's PhotometricDistortion recipe
# (transforms=photometric_distortion).
# 256x256 crops -> 64x64 heatmaps (sigma 2), mmpose's hand setting; `make bench` measures the
# CPM setting (368 -> 46, sigma 1) with --codec-options input_size=(368,368) ... as well.
_base_ = ['../_base_/default_runtime.py', '../_base_/datasets/onehand10k.py',
          '../_base_/codecs/msra_256_stride4.py']
train_dataloader = dict(dataset=dict(
    data_root='../shared/fixtures/onehand10k',
    ann_file='test_onehand10k.json',
    pipeline=[
        dict(type='LoadImage', reduce='auto'),
        dict(type='GetBBoxCenterScale', padding=1.25),
        dict(type='RandomFlip', prob=0.5),
        dict(type='RandomBBoxTransform', rotate_factor=180.0, scale_factor=(0.7, 1.3)),
        dict(type='TopdownAffine', input_size=_base_.codec['input_size']),
        dict(type='PhotometricAug'),
        dict(type='GenerateTarget', encoder=_base_.codec),
        dict(type='PackPoseInputs'),
    ]))
