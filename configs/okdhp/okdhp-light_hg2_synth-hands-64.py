# OKDHP on the light 2-stack hourglass (configs/hourglass/hourglass-light2_synth-hands-64.py,
# same data, schedule and student): the first stack shared, 3 branches that own the second
# stack each (every branch, and the exported student, is that light 2-stack hourglass); the
# other settings are OKDHPDistiller's defaults (the authors'), except the ramp-up length, scaled
# with the schedule as the authors' 90 of 150 epochs (4 of 6).
_base_ = ['../hourglass/hourglass-light2_synth-hands-64.py']
model = dict(_delete_=True, type='OKDHPDistiller', student=_base_.model, num_branches=3,
             branch_stacks=1, rampup_epochs=4)
