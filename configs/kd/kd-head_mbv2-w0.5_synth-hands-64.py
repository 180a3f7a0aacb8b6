# Head-sharing KD: the teacher's frozen last heatmap conv (stage 3's 1x1, 64 -> 21) run on the
# student's heatmap-layer input (32 ch) through a 1x1 adapter, matched to the teacher's heatmaps
# by keypoint-weighted MSE, weight 1.
_base_ = ['./_mbv2-w0.5_from_cpm-light_synth-hands.py']
model = dict(distill=[dict(type='HeadSharingKDLoss', name='loss_head', weight=1.0,
                           student='student.backbone.final_layer:input',
                           teacher_head='teacher.backbone.stages.2.12', criterion='mse')])
