# COCO, for users with the data and a GPU: the 4-stack hourglass baseline
# (configs/hourglass/hourglass4_coco-256x192.py, trained first) teaches the MobileNetV2 student
# (configs/students/mobilenetv2-w1.0_coco-256x192.py) at the same crop and heatmap grid.
# Knowledge: heatmap MSE to the teacher (FPD's 0.5 GT + 0.5 teacher) and DWPose's feature KD
# (the student's last decoder map, 128 ch, through a 1x1 conv to the teacher's last stack's
# 256-ch features, weight 7e-5, linear decay). Table rows (same seed and schedule):
#   python tools/distill_table.py --data-root '' \
#       --row configs/hourglass/hourglass4_coco-256x192.py \
#       --row configs/students/mobilenetv2-w1.0_coco-256x192.py \
#       --row configs/kd/kd-hm-fea_hg4-to-mbv2_coco-256x192.py
# (the teacher row trains into work_dirs/distill_table/hourglass4_coco-256x192/; point
# model.teacher_checkpoint at its last checkpoint, or train it with tools/train.py first).
_base_ = ['../students/mobilenetv2-w1.0_coco-256x192.py', './_hm-fea_hg4-to-mbv2.py']
teacher_config = '{{ fileDirname }}/../hourglass/hourglass4_coco-256x192.py'
teacher_checkpoint = 'work_dirs/hourglass4_coco-256x192/epoch_150.pth'
model = dict(_base_.hg4_to_mbv2_kd, _delete_=True, student={{_base_.model}},
             teacher=teacher_config, teacher_checkpoint=teacher_checkpoint)
