"""Real hand images for ``tools/sim2real.py``: the shared fixtures and any dataset config.

Each real set is a dataset built with the model's own test pipeline; the model predicts on the
ground-truth boxes (top-down protocol) and the predictions are scored as poseforge scores 2D
hands (``configs/_base_/datasets/_hand_2d_metrics.py``): PCK@0.2 of the box's longer side,
AUC over 0..30 px (20 thresholds) and EPE in px. Sets are also pooled: PCK@0.2 over every
labelled keypoint of every hand (each normalised by its own box), with the pool's AUC and EPE
taken in box-normalised units (AUC over 0..0.5 box sides, EPE as a fraction of the box side),
because pixel errors of a 40 px Panoptic hand and a 250 px MHP hand do not add up.

Every figure, per set and pooled, is a mean over labelled keypoints, so a set's keypoints x
its PCK add up to the pool's. mmpose's ``keypoint_pck_accuracy`` (``tools/eval.py``) averages
each joint over the hands first, then the joints: the two agree where every joint is labelled
equally often (Panoptic, MHP, RHD here) and not where labels are missing unevenly (the
OneHand10K fixture: 63 of 84 keypoints, 2-4 per joint). That figure is kept as
``PCK@0.2 (per joint)`` for comparison with ``tools/eval.py``.

The fixtures are research-only sample files: they are read where they lie (``--fixtures`` or
the tests' rule: ``$POSEFORGE_FIXTURES``, else ``shared/fixtures`` beside the checkout), never
copied. STB's fixture frame carries no label, so it cannot be scored; RHD is rendered, so it
has its own column and stays out of the real pool.
"""
from __future__ import annotations

import os
import os.path as osp
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: Box-normalised thresholds of the pool's AUC (0 .. 0.5 of the box side).
POOL_THRESHOLDS = np.linspace(0.0, 0.5, 51)[1:]


@dataclass
class RealSet:
    """A labelled set of hand images.

    Attributes:
        name: column name.
        dataset: dataset config (``type`` + arguments, without ``pipeline``).
        pooled: whether it belongs to the real pool (RHD is rendered: not pooled).
        note: one line for the table's legend.
    """

    name: str
    dataset: dict
    pooled: bool = True
    note: str = ''


@dataclass
class SetResult:
    """Predictions and scores of one model on one set."""

    name: str
    pooled: bool
    pred: np.ndarray          # (N, K, 2) image px
    gt: np.ndarray            # (N, K, 2)
    mask: np.ndarray          # (N, K) bool: scored keypoints
    boxes: np.ndarray         # (N, 4) x1, y1, x2, y2
    img_paths: list[str] = field(default_factory=list)

    def box_side(self) -> np.ndarray:
        return np.maximum(self.boxes[:, 2] - self.boxes[:, 0], self.boxes[:, 3] - self.boxes[:, 1])

    def normalised_errors(self) -> np.ndarray:
        """Scored keypoints' errors as fractions of their box's longer side (flat)."""
        dist = np.linalg.norm(self.pred - self.gt, axis=-1) / self.box_side()[:, None]
        return dist[self.mask]

    def pixel_errors(self) -> np.ndarray:
        """Scored keypoints' errors in px (flat, same order as :meth:`normalised_errors`)."""
        return np.linalg.norm(self.pred - self.gt, axis=-1)[self.mask]

    def metrics(self) -> dict:
        """PCK@0.2 (box), AUC (0..30 px, 20 thresholds) and EPE (px) over the set's labelled
        keypoints, as the pool counts them (module docstring); the thresholds and the strict
        ``<`` are mmpose's (``keypoint_auc``: ``i / 20`` of 30 px, ``i = 0..19``)."""
        from poseforge.evaluation.functional import auc_thresholds, keypoint_pck_accuracy
        box, px = self.normalised_errors(), self.pixel_errors()
        side = self.box_side()
        _, per_joint, _ = keypoint_pck_accuracy(self.pred, self.gt, self.mask, 0.2,
                                                np.stack([side, side], 1))
        if not len(box):
            nan = float('nan')
            return {'PCK@0.2': nan, 'AUC': nan, 'EPE': nan, 'PCK@0.2 (per joint)': nan,
                    'hands': int(len(self.pred)), 'keypoints': 0}
        thresholds = np.asarray(auc_thresholds(20))
        curve = (px[None] / 30.0 < thresholds[:, None]).mean(1)
        return {'PCK@0.2': float((box < 0.2).mean()), 'AUC': float(curve.mean()),
                'EPE': float(px.mean()), 'PCK@0.2 (per joint)': float(per_joint),
                'hands': int(len(self.pred)), 'keypoints': int(len(box))}


def pooled_metrics(results: list[SetResult]) -> dict:
    """PCK@0.2, AUC (0..0.5 box) and EPE (box fraction) over the pooled sets' keypoints."""
    errors = np.concatenate([r.normalised_errors() for r in results if r.pooled] or
                            [np.zeros(0)])
    if not len(errors):
        return {'PCK@0.2': float('nan'), 'AUC': float('nan'), 'EPE': float('nan'),
                'hands': 0, 'keypoints': 0}
    curve = (errors[None] < POOL_THRESHOLDS[:, None]).mean(1)
    return {'PCK@0.2': float((errors < 0.2).mean()), 'AUC': float(curve.mean()),
            'EPE': float(errors.mean()),
            'hands': int(sum(len(r.pred) for r in results if r.pooled)),
            'keypoints': int(len(errors))}


def locate_fixtures(explicit: str | None = None) -> Path:
    """``explicit``, else ``$POSEFORGE_FIXTURES``, else ``shared/fixtures`` beside the checkout
    or beside the repository it was cloned from (the tests' rule, ``tests/conftest.py``)."""
    root = Path(__file__).resolve().parents[1]
    candidates = [Path(explicit)] if explicit else []
    if os.environ.get('POSEFORGE_FIXTURES'):
        candidates.append(Path(os.environ['POSEFORGE_FIXTURES']))
    candidates.append(root.parent / 'shared' / 'fixtures')
    try:
        import subprocess
        url = subprocess.run(['git', 'remote', 'get-url', 'origin'], cwd=root, text=True,
                             capture_output=True, timeout=10).stdout.strip()
        if url:
            origin = Path(url[len('file://'):] if url.startswith('file://') else url)
            candidates.append(origin.resolve().parent / 'shared' / 'fixtures')
    except (OSError, subprocess.TimeoutExpired):
        pass
    found = next((c for c in candidates if c.is_dir()), None)
    if found is None:
        raise FileNotFoundError(
            f"real hand fixtures not found (tried {', '.join(map(str, candidates))}); pass "
            '--fixtures DIR or set POSEFORGE_FIXTURES')
    return found


def fixture_sets(fixtures: Path) -> list[RealSet]:
    """The labelled hands among the shared fixtures: OneHand10K (4), CMU Panoptic (4), the MHP
    frame-0 views (4) in the pool; RHD (3, rendered) in its own column.

    MHP labels the palm centre, not the wrist, as joint 0 (``root='palm'``), so its joint 0 is
    not scored (the model predicts a wrist there); the other 20 joints are MHP's own labels.
    """
    f = Path(fixtures)
    return [
        RealSet('OneHand10K', dict(type='OneHand10KDataset',
                                   ann_file=str(f / 'onehand10k' / 'test_onehand10k.json'),
                                   data_prefix=dict(img=str(f / 'onehand10k'))),
                note='4 photos, 63 of their 84 keypoints labelled'),
        RealSet('Panoptic', dict(type='PanopticHandDataset',
                                 ann_file=str(f / 'panoptic' / 'test_panoptic.json'),
                                 data_prefix=dict(img=str(f / 'panoptic'))),
                note='4 hands in 2 frames'),
        RealSet('MHP', dict(type='MhpDataset', data_root=str(f / 'mhp'), sequences=['data_1'],
                            root='palm'),
                note='frame 0 of data_1, 4 webcams; joint 0 (palm centre) not scored'),
        RealSet('RHD', dict(type='RhdDataset', ann_file=str(f / 'rhd' / 'test_rhd.json'),
                            data_prefix=dict(img=str(f / 'rhd'))),
                pooled=False, note='3 rendered images: not in the real pool'),
    ]


def config_set(config: str, split: str = 'test', cfg_options: dict | None = None,
               name: str | None = None) -> RealSet:
    """A real set from a dataset (or model) config: its ``<split>_dataloader.dataset``."""
    from poseforge.utils.config import load_config
    cfg = load_config(config, cfg_options)
    loader = cfg.get(f'{split}_dataloader')
    if loader is None:
        raise ValueError(f"'{config}' has no {split}_dataloader")
    dataset = dict(loader['dataset'])
    dataset.pop('pipeline', None)
    return RealSet(name or Path(config).stem, dataset, pooled=False,
                   note=f'{config} ({split} split)')


def annotation_file(dataset: dict) -> str | None:
    """The annotation file a dataset config reads (``data_root`` joined), if it names one."""
    ann = dataset.get('ann_file')
    if not ann:
        return None
    return ann if osp.isabs(ann) else osp.join(dataset.get('data_root') or '', ann)


def _scored_joints(dataset) -> np.ndarray:
    """Joints whose label means what the model predicts: all, except a palm-centre joint 0."""
    names = list(dataset.metainfo.get('keypoint_names') or [])
    keep = np.ones(max(len(names), 1) if names else 21, bool)
    if names and names[0] == 'palm':
        keep[0] = False
    return keep


def predict_set(model, real: RealSet, batch_size: int = 16,
                max_hands: int | None = None) -> SetResult:
    """Run ``model`` (from ``poseforge.apis.init_model``) on every hand of ``real``."""
    import torch

    from poseforge.datasets.collate import pose_collate
    from poseforge.registry import DATASETS
    loader = model.cfg.get('test_dataloader') or model.cfg.val_dataloader
    pipeline = [dict(t) for t in loader['dataset']['pipeline']]
    cfg = dict(real.dataset, pipeline=pipeline, test_mode=True)
    cfg.setdefault('serialize_data', False)
    dataset = DATASETS.build(cfg)
    keep = _scored_joints(dataset)
    count = len(dataset) if max_hands is None else min(len(dataset), max_hands)
    preds, gts, masks, boxes, paths = [], [], [], [], []
    with torch.no_grad():
        for start in range(0, count, batch_size):
            batch = pose_collate([dataset[i] for i in range(start, min(count, start + batch_size))])
            for out in model.test_step(batch):
                preds.append(np.asarray(out['pred_keypoints'], np.float64))
                gts.append(np.asarray(out['keypoints'], np.float64).reshape(-1, 2))
                masks.append((np.asarray(out['keypoints_visible']).reshape(-1) > 0) & keep)
                boxes.append(np.asarray(out['bbox'], np.float64).reshape(4))
                paths.append(str(out.get('img_path', '')))
    if not preds:
        raise ValueError(f"real set '{real.name}' holds no hands")
    return SetResult(real.name, real.pooled, np.stack(preds), np.stack(gts), np.stack(masks),
                     np.stack(boxes), paths)


def gallery_row(result: SetResult, metainfo: dict, tile: int = 128) -> list[np.ndarray]:
    """One tile per hand: prediction (colour) and ground truth (white) around the box."""
    import cv2

    from poseforge.visualization.draw import prediction_grid
    tiles = []
    for i, path in enumerate(result.img_paths):
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            raise OSError(f"cannot read '{path}'")
        pred = dict(pred_keypoints=result.pred[i], keypoints=result.gt[i],
                    keypoints_visible=result.mask[i], bbox=result.boxes[i])
        tiles.append(prediction_grid([image[..., ::-1]], [pred], metainfo, tile=tile, cols=1))
    return tiles


#: Crop statistics of :func:`crop_statistics`, in the order they are reported.
STATISTICS = ('brightness', 'contrast', 'saturation', 'sharpness', 'noise', 'hue spread',
              'turned > 60 deg')


def hand_roll_deg(keypoints: np.ndarray, visible: np.ndarray) -> float | None:
    """In-plane direction of the hand in the image, degrees from "fingers up" (0) to "fingers
    down" (180): the angle of joint 0 -> middle-finger MCP (joint 9) against the image's up
    axis. Joint 0 is the wrist, or MHP's palm centre, which points the same way. ``None`` when
    either joint is unlabelled."""
    keypoints = np.asarray(keypoints, np.float64).reshape(-1, 2)
    visible = np.asarray(visible).reshape(-1) > 0
    if len(keypoints) < 10 or not (visible[0] and visible[9]):
        return None
    dx, dy = keypoints[9] - keypoints[0]
    return float(abs(np.degrees(np.arctan2(dx, -dy))))


def crop_statistics(dataset_cfg: dict, size: int = 128, padding: float = 1.25,
                    max_hands: int = 200) -> dict[str, tuple[float, float]]:
    """Photometric statistics of the model's input crops: mean and spread over the hands.

    ``brightness`` and ``contrast`` are the mean and standard deviation of the grey level
    (0..1); ``saturation`` the mean HSV saturation; ``sharpness`` the mean absolute Laplacian
    of the grey crop divided by its contrast (edges per unit of contrast: blur lowers it);
    ``noise`` the median absolute difference from a 3x3 median filter (0..1); ``hue spread``
    the standard deviation of the hue of saturated pixels (colour variety); ``turned > 60 deg``
    whether the fingers point more than 60 degrees away from the image's up
    (:func:`hand_roll_deg`; its mean is the share of such hands: the in-plane rotations the
    training crops must cover, before the pipeline's own rotation). They show where
    generated crops sit against real ones (``tools/sim2real.py --gap``), which is what the
    ``sim2real`` photometric recipe is set from.
    """
    import cv2
    from mmengine.registry import init_default_scope

    from poseforge.registry import DATASETS
    init_default_scope('poseforge')
    pipeline = [dict(type='LoadImage'), dict(type='GetBBoxCenterScale', padding=padding),
                dict(type='TopdownAffine', input_size=(size, size))]
    cfg = dict(dataset_cfg, pipeline=pipeline, test_mode=True)
    cfg.setdefault('serialize_data', False)
    dataset = DATASETS.build(cfg)
    values: dict[str, list[float]] = {k: [] for k in STATISTICS}
    for i in range(min(len(dataset), max_hands)):
        img = np.ascontiguousarray(dataset[i]['img'])
        grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
        hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
        contrast = float(grey.std())
        values['brightness'].append(float(grey.mean()))
        values['contrast'].append(contrast)
        values['saturation'].append(float(hsv[..., 1].mean()) / 255.0)
        values['sharpness'].append(float(np.abs(cv2.Laplacian(grey, cv2.CV_32F)).mean())
                                   / max(contrast, 1e-3))
        median = cv2.medianBlur((grey * 255).astype(np.uint8), 3).astype(np.float32) / 255.0
        values['noise'].append(float(np.median(np.abs(grey - median))))
        saturated = hsv[..., 1] > 40
        hue = hsv[..., 0][saturated].astype(np.float32) * (2 * np.pi / 180.0)
        spread = (float(np.sqrt(-2 * np.log(max(np.hypot(np.cos(hue).mean(),
                                                         np.sin(hue).mean()), 1e-6))))
                  if saturated.sum() > 20 else 0.0)
        values['hue spread'].append(spread)
        info = dataset.get_data_info(i)
        roll = hand_roll_deg(info['keypoints'], info['keypoints_visible'])
        if roll is not None:
            values['turned > 60 deg'].append(float(roll > 60.0))
    return {k: (float(np.mean(v)), float(np.std(v))) if v else (float('nan'), float('nan'))
            for k, v in values.items()}
