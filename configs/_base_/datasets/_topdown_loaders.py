# Dataloader settings every top-down dataset config shares; a dataset config adds
# `dataset=dict(...)` (and a model config the pipelines) to each loader.
_loader = dict(
    num_workers=2,
    persistent_workers=True,
    # Scope-qualified: mmengine's Runner looks collate functions up with get(), not build().
    collate_fn=dict(type='poseforge.pose_collate'),
)
train_dataloader = dict(batch_size=32, sampler=dict(type='DefaultSampler', shuffle=True),
                        **_loader)
val_dataloader = dict(batch_size=32, drop_last=False,
                      sampler=dict(type='DefaultSampler', shuffle=False), **_loader)
test_dataloader = val_dataloader
