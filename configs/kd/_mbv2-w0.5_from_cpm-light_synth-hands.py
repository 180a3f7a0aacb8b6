# Shared by the configs/kd/ table configs: the quick start's light CPM (128x128 crops, stride 8,
# 3 stages, 0.49 GFLOP) teaches the MobileNetV2 x0.5 student (64x64 crops, stride 4, 0.013
# GFLOP; configs/students/mobilenetv2-w0.5_synth-hands-64.py) on the generated hands, with the
# student's data, schedule and seed. The teacher sees the student's 64x64 crop resized to 128x128
# (teacher_input_size); its 16x16 maps are resampled to the student's 16x16 grid (a 1/16 px
# shift from the resize's half-pixel centres, see poseforge/distillers/kd/geometry.py).
#
# teacher_checkpoint: the quick start's trained model (`make quickstart` writes it); set
# model.teacher_checkpoint=... to use another. Leaves set `distill` (and gt_weight, mixup).
_base_ = ['../students/mobilenetv2-w0.5_synth-hands-64.py']
teacher_config = '{{ fileDirname }}/teacher_cpm-light_synth-hands-128.py'
teacher_checkpoint = 'work_dirs/teacher_cpm-light_synth-hands-128/epoch_10.pth'
model = dict(_delete_=True, type='KDDistiller', student={{_base_.model}},
             teacher=teacher_config, teacher_checkpoint=teacher_checkpoint,
             teacher_input_size=(128, 128), distill=[])
