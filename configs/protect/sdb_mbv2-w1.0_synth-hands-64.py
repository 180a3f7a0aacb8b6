# Safe Distillation Box (arXiv 2112.03695): the protect teacher's network trained from scratch
# into a box against the frozen normal teacher (the adversary) with the key
# work_dirs/protect_table/sdb_key.npy (tools/sdb_key.py --out ... --size 64 64), lambda 0.9,
# eta 0.001 with a frozen random model; tau 0.1 and w 0.04 as the nasty teacher's (the paper's
# tau 4, w 1 are for classification logits: on heatmaps w tau = 4 lets the subtracted KL run
# away; see poseforge/distillers/nasty.py and sdb.py). Evaluate with
# model.predict_with=keyed for the keyed inputs; export: tools/export_student.py.
_base_ = ['./teacher_mbv2-w1.0_synth-hands-64.py']
teacher_config = '{{ fileDirname }}/teacher_mbv2-w1.0_synth-hands-64.py'
teacher_checkpoint = 'work_dirs/protect_table/teacher_mbv2-w1.0_synth-hands-64/epoch_8.pth'
key_file = 'work_dirs/protect_table/sdb_key.npy'
model = dict(_delete_=True, type='SDBDistiller', student={{_base_.model}},
             teacher=teacher_config, teacher_checkpoint=teacher_checkpoint, key_file=key_file,
             key_lambda=0.9, tau=0.1, weight=0.04, eta=0.001)
