# OKDHP's unbalanced variant on the 4-stack hourglass: 1 shared stack, then branches of 3, 2
# and 1 stacks (depths 4, 3, 2); branch 0 (4 stacks) is the exported student.
_base_ = ['./okdhp_hg4_mpii-256.py']
model = dict(branch_stacks=[3, 2, 1])
