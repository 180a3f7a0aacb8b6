# Runtime shared by every poseforge config: registries, hooks, logging, environment.
default_scope = 'poseforge'
runner_type = 'PoseRunner'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # atomic_local: a crash mid-save never leaves a truncated checkpoint behind; SafeCheckpointHook
    # writes a new (best) checkpoint before removing the one it replaces.
    checkpoint=dict(type='SafeCheckpointHook', interval=1, max_keep_ckpts=3,
                    save_best='auto', rule='greater',
                    backend_args=dict(backend='atomic_local')),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
custom_hooks = [dict(type='CurveHistoryHook', interval=10)]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # CPU-only nodes use gloo (poseforge.engine.distributed). timeout: seconds a collective
    # waits for a rank that does not answer before the job stops, naming that rank.
    dist_cfg=dict(backend='nccl', timeout=600),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True, num_digits=6)
log_level = 'INFO'
load_from = None
# Weights from load_from must fit the model exactly; False loads what fits (fine-tuning from
# another model) and logs what was and was not loaded. --resume is always strict.
load_strict = True
resume = False
randomness = dict(seed=0)
