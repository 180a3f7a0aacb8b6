#!/usr/bin/env python
"""How often the demo names the hand side right: the pose network's keypoints and the palm
classifier together, on labelled hands, as the demo runs them.

    python tools/hand_side_eval.py SIDE_CONFIG SIDE_CKPT --pose-config C --pose-checkpoint K \\
        [--mirror] [--max-hands N] [--cfg-options test_dataloader.dataset.data_root=...]

Each hand of SIDE_CONFIG's test set (any dataset with a ``hand_side``: generated hands, CMU
Panoptic, RHD; choose it with ``--cfg-options``) is cropped from its labelled box, the pose
network predicts its keypoints, the tracker's box is made from them and the side estimator
(:class:`poseforge.tracking.PalmSideEstimator`) gives a left probability from the palm
classifier and the keypoints' winding. ``--mirror`` also scores every image mirrored (a left
hand for every right one and back), which balances sets of one side (the generated hands are
right hands). Printed as one JSON object: per pass (``original``, ``mirrored``) the hands, the
side accuracy over the hands with a side vote, the share with a vote, and the same with the
labelled keypoints instead of the predicted ones (the classifier alone).
"""
from __future__ import annotations

import argparse
import json
import sys

from _common import add_cfg_options, user_errors_exit

import numpy as np

TOOL = 'hand_side_eval.py'


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='hand-side model config (configs/hand_side/)')
    parser.add_argument('checkpoint', help='its checkpoint')
    parser.add_argument('--pose-config', required=True, help='hand pose model config')
    parser.add_argument('--pose-checkpoint', required=True, help='its checkpoint')
    parser.add_argument('--mirror', action='store_true', help='also score mirrored images')
    parser.add_argument('--max-hands', type=int, default=0, help='score at most N hands')
    parser.add_argument('--threads', type=int, default=0)
    add_cfg_options(parser)
    return parser.parse_args(argv)


def labelled_hands(cfg, max_hands: int) -> list[dict]:
    """The test set's hands of known side: image path, box (x1, y1, x2, y2), keypoints."""
    from mmengine.registry import init_default_scope

    from poseforge.registry import DATASETS
    init_default_scope(cfg.get('default_scope', 'poseforge'))
    spec = dict(cfg.test_dataloader.dataset)
    spec['pipeline'] = []
    dataset = DATASETS.build(spec)
    hands = []
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        if info.get('hand_side') not in ('left', 'right'):
            continue
        hands.append(dict(img_path=info['img_path'], is_left=info['hand_side'] == 'left',
                          bbox=np.asarray(info['bbox'], np.float32).reshape(4),
                          keypoints=np.asarray(info['keypoints'], np.float32).reshape(-1, 2)))
        if max_hands and len(hands) == max_hands:
            break
    return hands


def mirrored(image: np.ndarray, hand: dict) -> tuple[np.ndarray, dict]:
    """The image flipped left-right, and the hand as it then is (the other side)."""
    w = image.shape[1]
    x1, y1, x2, y2 = hand['bbox']
    kpts = hand['keypoints'].copy()
    kpts[:, 0] = w - 1 - kpts[:, 0]
    return (np.ascontiguousarray(image[:, ::-1]),
            dict(hand, is_left=not hand['is_left'], keypoints=kpts,
                 bbox=np.array([w - 1 - x2, y1, w - 1 - x1, y2], np.float32)))


def side_votes(image: np.ndarray, hand: dict, pose, side) -> tuple[float, float]:
    """The left probability from predicted keypoints, and from the labelled ones (each hand
    cropped from the tracker's box around those keypoints)."""
    from poseforge.tracking import box_from_keypoints
    out = pose(image, hand['bbox'][None])
    kpts, scores = out['keypoints'][0], out['keypoint_scores'][0]
    box = box_from_keypoints(kpts, scores, -np.inf, pad=1.1)  # the tracker's next box
    predicted = float(side(image, box[None], kpts[None])[0])
    truth_box = box_from_keypoints(hand['keypoints'], np.ones(len(hand['keypoints'])),
                                   -np.inf, pad=1.1)
    labelled = float(side(image, truth_box[None], hand['keypoints'][None])[0])
    return predicted, labelled


def summarise(votes: list[tuple[float, float, bool]]) -> dict:
    arr = np.array(votes, np.float64).reshape(-1, 3)
    out = dict(hands=len(arr))
    for name, col in (('predicted keypoints', 0), ('labelled keypoints', 1)):
        decided = np.isfinite(arr[:, col])
        right = (arr[decided, col] >= 0.5) == arr[decided, 2].astype(bool)
        out[name] = dict(side_acc=round(float(right.mean()), 4) if decided.any() else None,
                         decided=round(float(decided.mean()), 4) if len(arr) else None)
    return out


def run(args: argparse.Namespace) -> dict:
    import cv2
    import torch
    from tqdm import tqdm

    from poseforge.apis import init_model
    from poseforge.deploy.predictor import TopdownBatchPredictor
    from poseforge.tracking import PalmSideEstimator
    from poseforge.utils.config import load_config
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_config(args.config, args.cfg_options)
    side = PalmSideEstimator(init_model(cfg, args.checkpoint), every=1)
    pose = TopdownBatchPredictor(init_model(args.pose_config, args.pose_checkpoint))
    hands = labelled_hands(cfg, args.max_hands)
    if not hands:
        raise ValueError(f'{args.config}: the test set has no hand with a known side')
    passes: dict[str, list] = {'original': []}
    if args.mirror:
        passes['mirrored'] = []
    for hand in tqdm(hands, desc='hands', unit='hand', file=sys.stderr):
        bgr = cv2.imread(hand['img_path'])
        if bgr is None:
            raise FileNotFoundError(f"{hand['img_path']}: cannot read the image")
        image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        for name in passes:
            img, h = (image, hand) if name == 'original' else mirrored(image, hand)
            passes[name].append((*side_votes(img, h, pose, side), h['is_left']))
    summary = {name: summarise(v) for name, v in passes.items()}
    summary['all'] = summarise([v for vs in passes.values() for v in vs])
    return summary


def main(argv=None) -> int:
    args = parse_args(argv)
    with user_errors_exit(TOOL):
        try:
            summary = run(args)
        except ValueError as err:
            print(f'{TOOL}: error: {err}', file=sys.stderr)
            return 2
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
