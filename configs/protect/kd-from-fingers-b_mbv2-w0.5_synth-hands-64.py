# The student recipe from amalgamation teacher B (the wrist, middle, ring and little finger).
_base_ = ['./_kd_mbv2-w0.5_synth-hands-64.py']
model = dict(teacher='{{ fileDirname }}/teacher-fingers-b_mbv2-w1.0_synth-hands-64.py',
             teacher_checkpoint='work_dirs/protect_table/teacher-fingers-b_mbv2-w1.0_'
                                'synth-hands-64/epoch_8.pth')
