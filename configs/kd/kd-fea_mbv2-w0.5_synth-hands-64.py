# Feature KD as DWPose's first stage: the student's last decoder map (32 ch, 16x16) through a
# 1x1 alignment conv to the teacher's trunk output (128 ch, 16x16), sum of squares / B, weight
# 7e-5, decayed linearly (1 - epoch / max_epochs).
_base_ = ['./_mbv2-w0.5_from_cpm-light_synth-hands.py']
model = dict(distill=[dict(type='FeatureKDLoss', name='loss_fea', weight=7e-5,
                           student='student.backbone.decoder.1',
                           teacher='teacher.backbone.trunk',
                           schedule=dict(policy='linear_decay'))])
