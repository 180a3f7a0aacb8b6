# Knowledge amalgamation of a body and a hand teacher into one student, without labels: the
# COCO body teacher (teacher-body_mbv2-w1.0_coco-256x256.py, 17 keypoints) and the OneHand10K
# hand teacher (teacher-hand_mbv2-w1.0_onehand10k-256x256.py, 21 keypoints) teach a MobileNetV2
# x1.0 student on the 38-keypoint union 'coco17+hand21' (body_* 0-16, then hand_* 17-37): a
# shared trunk, one 1x1 head per teacher task (merged into the student's last conv at export),
# per-head heatmap MSE against each teacher's maps of the same crop. That is the recipe that
# came closest to the union of its teachers on the finger-split hands (README, "Knowledge
# amalgamation"); amalgamation-cfl_body+hand_coco+onehand10k-256x256.py adds common feature
# learning. Least-ambiguous-teacher selection only acts on keypoints two teachers know, and
# the body and hand tasks share none (a body crop's wrist is not a hand crop's), so it has no
# variant here.
#
# Training images: COCO person boxes and OneHand10K hand boxes in one set
# (UnionKeypointDataset); their labels are converted to the union (the other part absent) for
# evaluation, never used by the losses. Both teachers run on every crop. Evaluation: COCO val
# (ground-truth boxes) + OneHand10K test, PCK@0.2 of the box per teacher task (TaskPCKAccuracy:
# PCK@0.2/body over the body joints of the person crops, PCK@0.2/hand over the hand joints of
# the hand crops), comparable with the teachers' own PCK@0.2 on their test sets.
#
# Teachers load from local checkpoints: by default where the README's teacher commands write
# them (last epoch); elsewhere with --cfg-options model.teachers.0.checkpoint=BODY.pth
# model.teachers.1.checkpoint=HAND.pth. Nothing is downloaded.
_base_ = ['./_body+hand_mbv2-w1.0-256x256.py', '../_base_/schedules/adam_150e.py',
          '../_base_/datasets/_topdown_loaders.py', '../_base_/datasets/_coco_sets.py',
          '../_base_/datasets/_onehand10k_sets.py']
from poseforge.skeletons import skeleton_parts

union = 'coco17+hand21'
tasks = skeleton_parts(union)  # body: union keypoints 0-16, hand: 17-37
# OneHand10K has 10k training hands, COCO ~150k training persons: each hand is listed 5 times
# so that about a quarter of the crops are hands (a choice, not measured here).
hand_repeat = 5

model = dict(
    _delete_=True, type='AmalgamationDistiller',
    # the shared network on the union: 38 keypoints
    student=dict(_base_.model, backbone=dict(_base_.model.backbone, num_keypoints=sum(
        len(keypoints) for keypoints in tasks.values()))),
    teachers=[
        dict(name='body', model='{{ fileDirname }}/teacher-body_mbv2-w1.0_coco-256x256.py',
             checkpoint='work_dirs/teacher-body_mbv2-w1.0_coco-256x256/epoch_150.pth',
             keypoints=tasks['body'], teacher_keypoints=list(range(len(tasks['body'])))),
        dict(name='hand', model='{{ fileDirname }}/'
             'teacher-hand_mbv2-w1.0_onehand10k-256x256.py',
             checkpoint='work_dirs/teacher-hand_mbv2-w1.0_onehand10k-256x256/epoch_45.pth',
             keypoints=tasks['hand'], teacher_keypoints=list(range(len(tasks['hand'])))),
    ],
    kd=dict(mode='mse'), kd_weight=1.0, mmd_weight=0.0, recon_weight=0.0, select='none')

# the sources: the teachers' splits, as their dataset bases (coco.py, onehand10k.py) read them
train_dataloader = dict(
    batch_size=32,
    dataset=dict(type='UnionKeypointDataset', skeleton=union, repeats=[1, hand_repeat],
                 datasets=[_base_.coco_sets.train, _base_.onehand10k_sets.train],
                 pipeline=_base_.train_pipeline))
val_dataloader = dict(
    dataset=dict(type='UnionKeypointDataset', skeleton=union, test_mode=True,
                 datasets=[_base_.coco_sets.val, _base_.onehand10k_sets.test],
                 pipeline=_base_.test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [dict(type='TaskPCKAccuracy', tasks=tasks, per_joint=True), dict(type='EPE')]
test_evaluator = val_evaluator
