# COCO 2017 person keypoints' splits as plain dataset configs (no pipeline, no test mode, no
# boxes file): coco.py builds its loaders from them, and a config that reads COCO beside
# another dataset (the body + hand amalgamation's UnionKeypointDataset) lists them as its
# sources, since mmengine refuses one key (train_dataloader) from two dataset bases.
coco_sets = dict(
    train=dict(type='CocoDataset', data_root='data/coco/',
               ann_file='annotations/person_keypoints_train2017.json',
               data_prefix=dict(img='train2017/')),
    val=dict(type='CocoDataset', data_root='data/coco/',
             ann_file='annotations/person_keypoints_val2017.json',
             data_prefix=dict(img='val2017/')),
)
