# The student recipe from the boxed teacher without the key (plain inputs, an ordinary KD).
_base_ = ['./_kd_mbv2-w0.5_synth-hands-64.py']
model = dict(teacher_checkpoint='work_dirs/protect_table/sdb_mbv2-w1.0_synth-hands-64/'
                                'student.pth')
