# The "best combination" row of the README's distillation table, chosen by a rule fixed before
# the single-loss rows were run: every single KD loss whose row beat the student alone in
# PCK@0.2 at the table's budget (2 epochs, seed 0), each at its own row's weight and schedule;
# the GT weight 0.5 only if heatmap MSE is among them (FPD's balance), else 1; mixup added only
# if the mixup row beat the heatmap-MSE row it extends. Those were the spatial-softmax KL
# (configs/kd/kd-hm-kl_...) and head sharing (configs/kd/kd-head_...); feature KD, AMD and
# heatmap MSE (with or without mixup) did not beat the student alone.
_base_ = ['./_mbv2-w0.5_from_cpm-light_synth-hands.py']
model = dict(distill=[
    dict(type='HeatmapKDLoss', name='loss_hm_kl', mode='kl', tau=1.0, weight=1.0),
    dict(type='HeadSharingKDLoss', name='loss_head', weight=1.0,
         student='student.backbone.final_layer:input',
         teacher_head='teacher.backbone.stages.2.12', criterion='mse')])
