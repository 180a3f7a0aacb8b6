# The same student recipe from the nasty teacher (its exported plain checkpoint).
_base_ = ['./_kd_mbv2-w0.5_synth-hands-64.py']
model = dict(teacher_checkpoint='work_dirs/protect_table/nasty_mbv2-w1.0_synth-hands-64/'
                                'student.pth')
