# OKDHP around the stacked hourglass (poseforge/distillers/okdhp/): the student config below is
# the deployable hourglass (what tools/export_student.py writes); the first
# `num_stacks - branch_stacks` stacks are shared, then 3 branches own 2 stacks each (the
# authors' hourglass_okd_share_less.py), FAU on the stem features as coded. Loss weights and
# ramp-up from the authors' experiment yaml. Leaves set the student's `num_stacks`,
# `num_keypoints` and codec as for the baseline (under `model.student`).
_base_ = ['./hourglass.py']
model = dict(
    _delete_=True,
    type='OKDHPDistiller',
    student=_base_.model,
    num_branches=3,
    branch_stacks=2,           # a list (e.g. [2, 1, 1]) makes the unbalanced variant
    fau=dict(mid_channels=64, kernel_sizes=(3, 5, 7), avg_pool=False),
    kd_weight=2.0,
    ens_weight=1.0,
    rampup_epochs=90,
    detach_ensemble=False,
    predict_with='student',    # evaluation: 'student', 'ensemble' or 'branch<i>'
)
