# AMD on the same pair of maps as the feature KD (student's last decoder map, teacher's trunk):
# s = 64, m = 1.35, global 0.8 + 4-quadrant local 0.2. Weight 1000: AMD publishes none for this
# use; 1000 is the attention-transfer weight of the RepDistiller code base whose layout the AMD
# re-implementation follows (the normalised-map MSEs are O(1/(H W))).
_base_ = ['./_mbv2-w0.5_from_cpm-light_synth-hands.py']
model = dict(distill=[dict(type='AMDLoss', name='loss_amd', weight=1000.0,
                           student='student.backbone.decoder.1',
                           teacher='teacher.backbone.trunk')])
