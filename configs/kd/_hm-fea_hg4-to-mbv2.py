# The knowledge of the body distillation tables (COCO, MPII), one recipe for both: the 4-stack
# hourglass teaches the MobileNetV2 x1.0 student by heatmap MSE to the teacher (FPD's 0.5 GT +
# 0.5 teacher) and DWPose's feature KD (the student's last decoder map, 128 ch, through a 1x1
# conv to the teacher's last stack's 256-ch features, weight 7e-5, linear decay). A leaf takes
# its student config as the other base (mmengine refuses `model` from two bases) and sets
# `model = dict(_base_.hg4_to_mbv2_kd, _delete_=True, student=..., teacher=...,
# teacher_checkpoint=...)`.
hg4_to_mbv2_kd = dict(
    type='KDDistiller', gt_weight=0.5,
    distill=[dict(type='HeatmapKDLoss', name='loss_hm', mode='mse', weight=0.5),
             dict(type='FeatureKDLoss', name='loss_fea', weight=7e-5,
                  student='student.backbone.decoder.1', teacher='teacher.backbone.stacks.3.fc',
                  schedule=dict(policy='linear_decay'))])
