# MPII, for users with the data and a GPU: the 4-stack hourglass baseline
# (configs/hourglass/hourglass4_mpii-256.py, trained first) teaches the MobileNetV2 student
# (configs/students/mobilenetv2-w1.0_mpii-256.py) at the same crop and heatmap grid; the same
# knowledge as the COCO config (heatmap MSE, 0.5 GT + 0.5 teacher; DWPose feature KD on the last
# decoder map -> the last stack's features, 7e-5, linear decay). Table rows:
#   python tools/distill_table.py --data-root '' \
#       --row configs/hourglass/hourglass4_mpii-256.py \
#       --row configs/students/mobilenetv2-w1.0_mpii-256.py \
#       --row configs/kd/kd-hm-fea_hg4-to-mbv2_mpii-256.py
_base_ = ['../students/mobilenetv2-w1.0_mpii-256.py', './_hm-fea_hg4-to-mbv2.py']
teacher_config = '{{ fileDirname }}/../hourglass/hourglass4_mpii-256.py'
teacher_checkpoint = 'work_dirs/hourglass4_mpii-256/epoch_150.pth'
model = dict(_base_.hg4_to_mbv2_kd, _delete_=True, student={{_base_.model}},
             teacher=teacher_config, teacher_checkpoint=teacher_checkpoint)
