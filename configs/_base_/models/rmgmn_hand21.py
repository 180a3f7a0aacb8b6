# R-MGMN for the 21-keypoint hand: the parts every R-MGMN config shares (a pool of 3 graphical
# models, the rotation net aligning the wrist -> middle-MCP axis, AGMN's kernel target sigmas).
# Leaves build `model` from these with their own trunks, kernel size, training stage, loss
# weights and codec:
#   backbone=dict(_delete_=True, **_base_.rmgmn_backbone, unary=..., kernel_size=..., ...)
rmgmn_backbone = dict(type='RMGMN', num_keypoints=21, skeleton='hand21', num_models=3,
                      use_rotation=True, rotation=dict(channels=64), angle_joints=(0, 9))
rmgmn_head = dict(type='RMGMNHead', loss=dict(type='KeypointMSELoss'),
                  kernel_sigmas=(1.0, 2.0, 3.0), skeleton='hand21', angle_joints=(0, 9))
