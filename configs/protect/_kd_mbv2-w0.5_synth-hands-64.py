# The student recipe of the model-protection tables: the x0.5 student
# (student_mbv2-w0.5_synth-hands-64.py) distilled from a protect teacher by
# heatmap KD in the nasty-teacher paper's balance: 0.9 x tau^2 spatial-softmax KL (tau 0.1, the
# temperature the nasty teacher and the box were trained with) + 0.1 x ground truth. Leaves set
# the teacher (config + checkpoint).
_base_ = ['./student_mbv2-w0.5_synth-hands-64.py']
teacher_config = '{{ fileDirname }}/teacher_mbv2-w1.0_synth-hands-64.py'
model = dict(_delete_=True, type='KDDistiller', student={{_base_.model}},
             teacher=teacher_config, teacher_checkpoint=None, gt_weight=0.1,
             distill=[dict(type='HeatmapKDLoss', name='loss_hm_kl', mode='kl', tau=0.1,
                           weight=0.9)])
