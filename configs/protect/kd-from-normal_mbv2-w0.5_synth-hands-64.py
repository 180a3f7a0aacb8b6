# The student distilled from the normal teacher (the reference row of the nasty / box tables).
_base_ = ['./_kd_mbv2-w0.5_synth-hands-64.py']
model = dict(teacher_checkpoint='work_dirs/protect_table/teacher_mbv2-w1.0_synth-hands-64/'
                                'epoch_8.pth')
