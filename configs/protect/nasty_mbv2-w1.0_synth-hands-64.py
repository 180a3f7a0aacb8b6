# Nasty teacher (arXiv 2105.07381): the protect teacher's network trained from scratch with its
# ground truth minus w * tau^2 * spatial-softmax KL to the frozen normal teacher
# (teacher_mbv2-w1.0_synth-hands-64.py, its checkpoint from the table's work dir), same data,
# schedule and seed. tau 0.1 and w 0.04: the paper's CIFAR settings adapted to 0..1 heatmaps
# (see poseforge/distillers/nasty.py). Export: tools/export_student.py -> a plain checkpoint.
_base_ = ['./teacher_mbv2-w1.0_synth-hands-64.py']
teacher_config = '{{ fileDirname }}/teacher_mbv2-w1.0_synth-hands-64.py'
teacher_checkpoint = 'work_dirs/protect_table/teacher_mbv2-w1.0_synth-hands-64/epoch_8.pth'
model = dict(_delete_=True, type='NastyTeacherDistiller', student={{_base_.model}},
             teacher=teacher_config, teacher_checkpoint=teacher_checkpoint, tau=0.1, weight=0.04)
