# OneHand10K's splits (mmpose's converted json) as plain dataset configs (no pipeline, no test
# mode): onehand10k.py builds its loaders from them, and a config that reads OneHand10K beside
# another dataset (the body + hand amalgamation's UnionKeypointDataset) lists them as its
# sources, since mmengine refuses one key (train_dataloader) from two dataset bases.
# data_prefix is left out on purpose (onehand10k.py: each annotation format has its own default).
onehand10k_sets = dict(
    train=dict(type='OneHand10KDataset', data_root='data/onehand10k',
               ann_file='annotations/onehand10k_train.json'),
    test=dict(type='OneHand10KDataset', data_root='data/onehand10k',
              ann_file='annotations/onehand10k_test.json'),
)
