# The body teacher of the body + hand amalgamation: MobileNetV2 x1.0 on COCO person keypoints
# (17) at the amalgamation's crop (_body+hand_mbv2-w1.0-256x256.py), trained on ground-truth
# boxes with the COCO MobileNetV2 model's schedule (Adam 2.5e-4, x0.1 at 90 and 120, 150
# epochs; configs/students/mobilenetv2-w1.0_coco-256x192.py), batch 32. Evaluated on COCO val
# with ground-truth boxes: OKS AP, and PCK@0.2 of the box, the number the amalgamated
# student's PCK@0.2/body (TaskPCKAccuracy, same definition and boxes) is compared with.
_base_ = ['./_body+hand_mbv2-w1.0-256x256.py', '../_base_/schedules/adam_150e.py',
          '../_base_/datasets/coco.py']
model = dict(backbone=dict(num_keypoints=17))
train_dataloader = dict(batch_size=32, dataset=dict(pipeline=_base_.train_pipeline))
val_dataloader = dict(dataset=dict(bbox_file='', pipeline=_base_.test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [_base_.val_evaluator, dict(type='PCKAccuracy', thr=0.2, norm_item='bbox')]
test_evaluator = val_evaluator
