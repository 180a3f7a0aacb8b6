# DGGAN on the generated hands, CPU-sized (configs/_base_/models/dggan_cpm-light_128.py): the
# generator writes metric depth for every view, so the GAN's real samples and the regulariser's
# pretraining pairs are the generated depth maps (depth/<split>/*.png, mm). Shared by the four
# stage configs beside this file; each adds its stage's schedule (configs/_base_/schedules/
# dggan_stage*.py) and sets model.stage and load_from. The test
# pipeline loads the real depth too, so that `tools/eval.py --vis` draws it beside the generated.
_base_ = ['../_base_/default_runtime.py',
          '../_base_/datasets/synth_hands.py', '../_base_/datasets/_hand_3d_metrics.py',
          '../_base_/models/dggan_cpm-light_128.py']
from poseforge.datasets.transforms.presets import topdown_3d_pipelines

train_pipeline, test_pipeline = topdown_3d_pipelines(
    _base_.codec, _base_.depth_codec, padding=1.25, depth_format='mm_png',
    depth_map_size=_base_.depth_size, test_depth=True, rotate_factor=45.0,
    scale_factor=(0.75, 1.25))

# the generated hands' mean middle MCP -> PIP (train split) is 44.9 mm: the no-ground-truth
# reconstruction's size prior
model = dict(pose_net=dict(test_cfg=dict(bone_length_prior=45.0)))
data_root = 'data/synth_hands'
train_dataloader = dict(batch_size=32, dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = _base_.hand3d_evaluator
test_evaluator = val_evaluator
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=5))
