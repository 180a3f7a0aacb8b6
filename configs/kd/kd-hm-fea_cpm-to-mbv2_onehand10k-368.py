# OneHand10K, for users with the data and a GPU: the NSRM authors' VGG19 CPM
# (configs/cpm/cpm_vgg19_onehand10k-368.py, trained first) teaches the MobileNetV2 student
# (configs/students/mobilenetv2-w1.0_onehand10k-368.py) at the same 368 crop and 46x46 grid.
# Knowledge: heatmap MSE to the teacher's last stage (0.5 GT + 0.5 teacher) and DWPose's feature
# KD (the student's stride-8 decoder map, 96 ch, through a 1x1 conv to the CPM trunk's 128-ch
# features, weight 7e-5, linear decay). Table rows:
#   python tools/distill_table.py --data-root '' \
#       --row configs/cpm/cpm_vgg19_onehand10k-368.py \
#       --row configs/students/mobilenetv2-w1.0_onehand10k-368.py \
#       --row configs/kd/kd-hm-fea_cpm-to-mbv2_onehand10k-368.py
_base_ = ['../students/mobilenetv2-w1.0_onehand10k-368.py']
teacher_config = '{{ fileDirname }}/../cpm/cpm_vgg19_onehand10k-368.py'
teacher_checkpoint = 'work_dirs/cpm_vgg19_onehand10k-368/epoch_45.pth'
model = dict(
    _delete_=True, type='KDDistiller', student={{_base_.model}}, teacher=teacher_config,
    teacher_checkpoint=teacher_checkpoint, gt_weight=0.5,
    distill=[dict(type='HeatmapKDLoss', name='loss_hm', mode='mse', weight=0.5),
             dict(type='FeatureKDLoss', name='loss_fea', weight=7e-5,
                  student='student.backbone.decoder.0', teacher='teacher.backbone.trunk',
                  schedule=dict(policy='linear_decay'))])
