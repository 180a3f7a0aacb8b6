# R-MGMN for the 21-keypoint hand: the parts every R-MGMN config shares (a pool of 3 graphical
# models, the rotation net aligning the wrist -> middle-MCP axis, AGMN's kernel target sigmas).
# Leaves build `model` from these with their own trunks, kernel size, training stage, loss
# weights and codec:
#   backbone=dict(_delete_=True, **_base_.rmgmn_backbone, unary=..., kernel_size=..., ...)
rmgmn_backbone = dict(type='RMGMN', num_keypoints=21, skeleton='hand21', num_models=3,
                      use_rotation=True, rotation=dict(channels=64), angle_joints=(0, 9))
# The marginal loss compares maps that sum to 1 with the normalised targets: a sigma-1-cell
# Gaussian target sums to 2*pi, so at equal weight that term is (2*pi)^2 ~ 39.5 times smaller
# than the unary term (measured ~40x) and barely trains. `marginal_scale` restores the unary
# term's scale, as AGMN scales its losses (x30 MSE, marginal weight 1 vs 0.1 for unary/kernels).
# Leaves give it as `marginal_weight` wherever the marginal term is on.
marginal_scale = 39.5
rmgmn_head = dict(type='RMGMNHead', loss=dict(type='KeypointMSELoss'),
                  kernel_sigmas=(1.0, 2.0, 3.0), skeleton='hand21', angle_joints=(0, 9))
