"""``Hand3DMetric``: the 3D hand protocol (root-relative EPE, 3D PCK curve, AUC 20-50 mm) for
mmengine's evaluator; definitions in :mod:`poseforge.evaluation.functional.keypoint_3d`.

Inputs, per sample of the ``predict`` list (``docs/design.md``), numpy or torch:

* ``pred_keypoints_3d`` (K, 3) mm: the model's 3D prediction, camera frame or root-relative
  (each pose is centred on its own root joint, so either works);
* ``keypoints_3d`` (K, 3) mm: the ground truth (copied from the sample's ``meta``);
* with ``visibility_key`` set (e.g. ``'keypoints_visible'``), that (K,) array: joints with 0
  are not evaluated. By default every joint with a finite ground truth is, as in hand3d's 3D
  evaluation (``kp_vis = ones``): RHD's 2D visibility flags occluded joints whose 3D labels
  are still exact.

Reported (names plain, ``default_prefix = ''``), AUC first so that a checkpoint hook's
``save_best='auto'`` with ``rule='greater'`` tracks it:

* ``AUC3D_20-50``, ``EPE3D`` (mean, mm), ``EPE3D_median`` (mm) without alignment;
* the same with the suffix ``_aligned`` after scale alignment to the ground truth's reference
  bone (``scale_align='both'``, the default; ``True`` reports only these, ``False`` only the
  unaligned ones).

With ``out_dir`` the PCK curves are also written as ``pck3d_curve.png`` and ``pck3d_curve.json``
(thresholds, curves, AUCs).
"""
from __future__ import annotations

import json
import os
from typing import Any, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from poseforge.evaluation.functional.keypoint_3d import (MIDDLE_MCP_PIP, auc_3d,
                                                         default_3d_thresholds, epe_3d,
                                                         joint_errors_3d, pck_3d_curve)
from poseforge.registry import METRICS
from poseforge.skeletons import HAND21

__all__ = ['Hand3DMetric', 'plot_pck_3d']


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, 'detach'):  # torch.Tensor, without importing torch here
        value = value.detach().cpu().numpy()
    return np.array(value, dtype=np.float64, copy=True)


@METRICS.register_module()
class Hand3DMetric(BaseMetric):
    """Root-relative 3D hand metrics (hand3d / DGGAN protocol), with and without scale alignment.

    Args:
        root_index: the joint poses are centred on (0: wrist or palm centre in ``hand21``).
        thresholds: PCK curve thresholds in mm, strictly increasing (default 0, 1, ..., 50).
        auc_range: ``(lo, hi)`` mm of the AUC, both ends among ``thresholds`` (default 20, 50).
        scale_align: ``'both'`` (default), ``True`` (aligned only) or ``False`` (raw only).
        scale_bone: the reference for alignment: a ``(parent, child)`` pair (default ``(9,
            10)``, the middle finger's MCP -> PIP, as hand3d), a list of pairs (their mean
            length), or ``'all'`` (mean length of every limb of the dataset's skeleton).
        exclude_root: leave the root joint (error 0 by construction) out of the averages.
        visibility_key: a per-sample (K,) key whose zeros exclude joints (``None``: all
            joints with a finite ground truth count).
        out_dir: where to write the PCK curve plot and values; ``None`` writes nothing.
        collect_device, prefix: as in mmengine's ``BaseMetric``.
    """

    default_prefix = ''

    def __init__(self, root_index: int = 0, thresholds: Sequence[float] | None = None,
                 auc_range: tuple[float, float] = (20.0, 50.0),
                 scale_align: bool | str = 'both',
                 scale_bone: Sequence[int] | Sequence[Sequence[int]] | str = MIDDLE_MCP_PIP,
                 exclude_root: bool = False, visibility_key: str | None = None,
                 out_dir: str | None = None,
                 collect_device: str = 'cpu', prefix: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if scale_align not in ('both', True, False):
            raise ValueError(f"Hand3DMetric: scale_align must be 'both', True or False, got "
                             f'{scale_align!r}')
        if isinstance(scale_bone, str) and scale_bone != 'all':
            raise ValueError(f"Hand3DMetric: scale_bone must be a bone pair, a list of pairs "
                             f"or 'all', got {scale_bone!r}")
        self.root_index = int(root_index)
        self.thresholds = (default_3d_thresholds() if thresholds is None
                           else np.asarray(thresholds, dtype=np.float64))
        self.auc_range = (float(auc_range[0]), float(auc_range[1]))
        auc_3d(self.thresholds, np.zeros_like(self.thresholds), self.auc_range)  # checks now
        self.scale_align = scale_align
        self.scale_bone = scale_bone
        self.exclude_root = exclude_root
        self.visibility_key = visibility_key
        self.out_dir = out_dir

    # ------------------------------------------------------------------ collection
    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Keep ``pred``, ``gt`` (flat K*3) and ``mask`` (K,) of every sample."""
        for sample in data_samples:
            for key in ('pred_keypoints_3d', 'keypoints_3d'):
                if key not in sample:
                    raise KeyError(f"Hand3DMetric needs '{key}' in every prediction dict "
                                   f'(mm, (K, 3)); got keys {sorted(sample)}')
            pred = _numpy(sample['pred_keypoints_3d']).reshape(-1, 3)
            gt = _numpy(sample['keypoints_3d']).reshape(-1, 3)
            if pred.shape != gt.shape:
                raise ValueError(f'Hand3DMetric: pred_keypoints_3d {pred.shape} and '
                                 f'keypoints_3d {gt.shape} differ in shape')
            mask = np.ones(len(gt), bool)
            if self.visibility_key is not None:
                if self.visibility_key not in sample:
                    raise KeyError(f"Hand3DMetric: visibility_key '{self.visibility_key}' is "
                                   f'not in the prediction dict (keys {sorted(sample)})')
                mask = _numpy(sample[self.visibility_key]).reshape(-1) > 0
            if mask.size != len(gt):
                raise ValueError(f'Hand3DMetric: {self.visibility_key} has {mask.size} entries '
                                 f'for {len(gt)} keypoints')
            self.results.append(dict(pred=pred.ravel(), gt=gt.ravel(), mask=mask))

    def _stack(self, results: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not results:
            raise ValueError('Hand3DMetric has no results to evaluate: process() was never '
                             'given a sample (empty evaluation dataset or dataloader?)')
        sizes = {r['mask'].size for r in results}
        if len(sizes) != 1:
            raise ValueError(f'Hand3DMetric: samples have different keypoint counts '
                             f'{sorted(sizes)}')
        num = len(results)
        pred = np.concatenate([r['pred'] for r in results]).reshape(num, -1, 3)
        gt = np.concatenate([r['gt'] for r in results]).reshape(num, -1, 3)
        mask = np.concatenate([r['mask'] for r in results]).reshape(num, -1)
        if self.exclude_root:
            mask[:, self.root_index] = False
        return pred, gt, mask

    def _bones(self) -> Any:
        if self.scale_bone != 'all':
            return self.scale_bone
        limbs = (self.dataset_meta or {}).get('limbs') or [list(b) for b in HAND21.limbs]
        return [list(limb) for limb in limbs]

    # ------------------------------------------------------------------ metrics
    def compute_metrics(self, results: list) -> dict[str, float]:
        pred, gt, mask = self._stack(results)
        MMLogger.get_current_instance().info(
            f'Evaluating Hand3DMetric on {len(pred)} samples (root-relative, mm)...')
        variants = {'both': (('', None), ('_aligned', self._bones())),
                    True: (('_aligned', self._bones()),),
                    False: (('', None),)}[self.scale_align]
        lo, hi = self.auc_range
        metrics: dict[str, float] = {}
        curves: dict[str, list[float]] = {}
        for suffix, bones in variants:
            errors = joint_errors_3d(pred, gt, self.root_index, bones)
            curve = pck_3d_curve(errors, self.thresholds, mask)
            mean, median = epe_3d(errors, mask)
            metrics[f'AUC3D_{lo:g}-{hi:g}{suffix}'] = auc_3d(self.thresholds, curve,
                                                             self.auc_range)
            metrics[f'EPE3D{suffix}'] = mean
            metrics[f'EPE3D_median{suffix}'] = median
            curves[f'PCK3D{suffix}'] = curve.tolist()
        if self.out_dir:
            self._write_curves(curves, metrics)
        return metrics

    def _write_curves(self, curves: dict[str, list[float]], metrics: dict[str, float]) -> None:
        os.makedirs(self.out_dir, exist_ok=True)
        with open(os.path.join(self.out_dir, 'pck3d_curve.json'), 'w', encoding='utf-8') as f:
            json.dump(dict(thresholds_mm=self.thresholds.tolist(), auc_range_mm=self.auc_range,
                           curves=curves, metrics=metrics), f, indent=1)
        plot_pck_3d(self.thresholds, curves, os.path.join(self.out_dir, 'pck3d_curve.png'),
                    self.auc_range, metrics)


def plot_pck_3d(thresholds: np.ndarray, curves: dict[str, Sequence[float]], path: str,
                auc_range: tuple[float, float] = (20.0, 50.0),
                metrics: dict[str, float] | None = None) -> str:
    """Write the 3D PCK curves (threshold in mm vs fraction correct) as a PNG.

    Uses matplotlib's Agg canvas directly (no pyplot), so it neither needs a display nor
    changes the backend of a process that plots elsewhere.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.axvspan(*auc_range, color='0.92', zorder=0, label=f'AUC range {auc_range[0]:g}-'
               f'{auc_range[1]:g} mm')
    for name, curve in curves.items():
        suffix = name[len('PCK3D'):]
        auc = (metrics or {}).get(f'AUC3D_{auc_range[0]:g}-{auc_range[1]:g}{suffix}')
        label = name if auc is None else f'{name} (AUC {auc:.3f})'
        ax.plot(thresholds, curve, lw=1.5, label=label)
    ax.set(xlabel='threshold (mm)', ylabel='3D PCK', ylim=(0, 1.02),
           xlim=(float(thresholds[0]), float(thresholds[-1])),
           title='3D PCK (root-relative)')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc='lower right')
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path
