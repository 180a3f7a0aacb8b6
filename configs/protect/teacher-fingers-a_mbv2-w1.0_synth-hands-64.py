# Amalgamation teacher A: wrist, thumb, index and middle finger (keypoints 0-12) only.
_base_ = ['./_fingers_teacher.py']
keep = _base_.tasks['thumb_index_middle']
train_dataloader = dict(dataset=dict(pipeline=[
    *_base_.train_pipeline[:-1], dict(type='MaskKeypoints', keep=keep),
    _base_.train_pipeline[-1]]))
