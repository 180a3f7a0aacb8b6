# The student recipe from amalgamation teacher A (trained on the wrist, thumb, index and middle
# finger only): a teacher of a related but different task, for the transferability table.
_base_ = ['./_kd_mbv2-w0.5_synth-hands-64.py']
model = dict(teacher='{{ fileDirname }}/teacher-fingers-a_mbv2-w1.0_synth-hands-64.py',
             teacher_checkpoint='work_dirs/protect_table/teacher-fingers-a_mbv2-w1.0_'
                                'synth-hands-64/epoch_8.pth')
