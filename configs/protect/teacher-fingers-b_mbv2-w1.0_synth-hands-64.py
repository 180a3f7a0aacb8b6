# Amalgamation teacher B: wrist, middle, ring and little finger (keypoints 0, 9-20) only.
_base_ = ['./_fingers_teacher.py']
keep = _base_.tasks['middle_ring_little']
train_dataloader = dict(dataset=dict(pipeline=[
    *_base_.train_pipeline[:-1], dict(type='MaskKeypoints', keep=keep),
    _base_.train_pipeline[-1]]))
