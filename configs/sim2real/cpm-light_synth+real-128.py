# Generated hands plus a small real set: the recipe for users with a few hundred labelled
# images. Batches mix the two: the generated set as in configs/sim2real/cpm-light_sim2real-128.py,
# the real set repeated `real_repeat` times per epoch so that it is seen about as often as a
# few thousand generated images (RepeatDataset), both through the same pipeline (sim2real
# photometric recipe). Evaluation is on the real set's test split. The defaults read OneHand10K
# as configs/_base_/datasets/onehand10k.py lays it out; for your own data copy this file and
# edit `real` / `real_test` (any 21-keypoint hand dataset type: OneHand10KDataset,
# PanopticHandDataset, RhdDataset, ...), or override the built entries:
#     --cfg-options train_dataloader.dataset.datasets.1.dataset.data_root=data/my_hands \
#                   val_dataloader.dataset.data_root=data/my_hands \
#                   test_dataloader.dataset.data_root=data/my_hands
_base_ = ['./cpm-light_sim2real-128.py']

real_repeat = 10
real = dict(type='OneHand10KDataset', data_root='data/onehand10k',
            ann_file='annotations/onehand10k_train.json')
real_test = dict(type='OneHand10KDataset', data_root='data/onehand10k',
                 ann_file='annotations/onehand10k_test.json', test_mode=True)

train_dataloader = dict(dataset=dict(
    _delete_=True, type='ConcatDataset',
    # the generated hands' own metainfo names this set; the real set's keypoints are the same
    ignore_keys=['dataset'],
    datasets=[
        dict(type='SynthHandDataset', data_root='data/synth_hands',
             ann_file='annotations/train.json', data_prefix=dict(img='images/train/'),
             pipeline=_base_.train_pipeline),
        dict(type='RepeatDataset', times=real_repeat,
             dataset=dict(real, pipeline=_base_.train_pipeline)),
    ]))
val_dataloader = dict(dataset=dict(real_test, _delete_=True, pipeline=_base_.test_pipeline))
test_dataloader = val_dataloader
