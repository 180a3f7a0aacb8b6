# The hand teacher of the body + hand amalgamation: MobileNetV2 x1.0 on OneHand10K (21
# keypoints) at the amalgamation's crop (_body+hand_mbv2-w1.0-256x256.py), with the OneHand10K
# CPM's schedule (Adam 1e-4, x0.5 at 40, 45 epochs; configs/cpm/cpm_vgg19_onehand10k-368.py),
# batch 32; PCK@0.2 of the box, AUC, EPE.
_base_ = ['./_body+hand_mbv2-w1.0-256x256.py', '../_base_/schedules/adam_step.py',
          '../_base_/datasets/onehand10k.py']
model = dict(backbone=dict(num_keypoints=21))
train_dataloader = dict(batch_size=32, dataset=dict(pipeline=_base_.train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=_base_.test_pipeline))
test_dataloader = val_dataloader
