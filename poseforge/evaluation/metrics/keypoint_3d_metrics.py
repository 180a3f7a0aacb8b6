"""``Hand3DMetric``: the 3D hand protocol (root-relative EPE, 3D PCK curve, AUC 20-50 mm) for
mmengine's evaluator; definitions in :mod:`poseforge.evaluation.functional.keypoint_3d`.

Inputs, per sample of the ``predict`` list (``docs/design.md``), numpy or torch:

* ``pred_keypoints_3d`` (K, 3) mm (or the key ``pred_key`` names): the model's 3D prediction,
  camera frame or root-relative (each pose is centred on its own root, so either works);
* ``<pred_key>_given`` (optional str): what the model was *given* to reconstruct it, e.g.
  ``'gt-root-depth+bone'`` when the ground-truth root depth and reference bone length were
  granted (the hand3d / DGGAN protocol), ``'no-gt'`` when it estimated them. 3D models write it
  (:class:`~poseforge.models.estimators.topdown_3d.Topdown3DPoseEstimator`); it goes into the
  metric names, so a table can never mix the two up;
* ``keypoints_3d`` (K, 3) mm: the ground truth (copied from the sample's ``meta``);
* with ``visibility_key`` set (e.g. ``'keypoints_visible'``), that (K,) array: joints with 0
  are not evaluated. By default every joint with a finite ground truth is, as in hand3d's 3D
  evaluation (``kp_vis = ones``): RHD's 2D visibility flags occluded joints whose 3D labels
  are still exact.

The root (option ``root``): ``'wrist'`` centres both poses on joint ``root_index`` (0);
``'palm'`` on the palm centre: joint 0 itself where the dataset's joint 0 *is* the palm centre
(STB, MHP loaded with ``root='palm'``: ``metainfo['root_joint'] == 'palm'``), else hand3d's
``0.5 (wrist + middle MCP)``; ``'auto'`` (default) is whichever joint 0 is. A wrist root on a
palm-rooted dataset is refused (there is no wrist in it).

Reported (``default_prefix = ''``), AUC first so that a checkpoint hook's ``save_best='auto'``
with ``rule='greater'`` tracks it; every name ends in ``/<root>`` and, when the predictions say
what they were given, ``/<given>``, e.g. ``EPE3D/wrist/gt-root-depth+bone``:

* ``AUC3D_20-50``, ``EPE3D`` (mean, mm), ``EPE3D_median`` (mm) without alignment;
* the same with ``_aligned`` after the stat (``EPE3D_aligned/...``) after scale alignment to
  the ground truth's reference bone (``scale_align='both'``, the default; ``True`` reports only
  these, ``False`` only the unaligned ones).

With ``out_dir`` the PCK curves are also written as ``pck3d_curve.png`` and ``pck3d_curve.json``
(thresholds, curves, AUCs; ``pck3d_curve_<pred_key>.*`` for another ``pred_key``).
"""
from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from poseforge.evaluation.functional.keypoint_3d import (MIDDLE_MCP_PIP, PALM_FROM_WRIST,
                                                         auc_3d, default_3d_thresholds,
                                                         epe_3d, joint_errors_3d,
                                                         pck_3d_curve)
from poseforge.registry import METRICS
from poseforge.utils.fileio import atomic_write_json
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
        root: ``'auto'``, ``'wrist'`` or ``'palm'`` (module docstring); named in the output.
        root_index: the wrist (joint 0 in ``hand21``).
        pred_key: the prediction to evaluate (``'pred_keypoints_3d'``; 3D estimators also
            write ``'pred_keypoints_3d_est'``, reconstructed without ground truth).
        thresholds: PCK curve thresholds in mm, strictly increasing (default 0, 1, ..., 50).
        auc_range: ``(lo, hi)`` mm of the AUC, both ends among ``thresholds`` (default 20, 50).
        scale_align: ``'both'`` (default), ``True`` (aligned only) or ``False`` (raw only).
        scale_bone: the reference for alignment: a ``(parent, child)`` pair (default ``(9,
            10)``, the middle finger's MCP -> PIP, as hand3d), a list of pairs (their mean
            length), or ``'all'`` (mean length of every limb of the dataset's skeleton).
        exclude_root: leave a root joint (error 0 by construction) out of the averages.
        visibility_key: a per-sample (K,) key whose zeros exclude joints (``None``: all
            joints with a finite ground truth count).
        out_dir: where to write the PCK curve plot and values; ``None`` writes nothing.
        collect_device, prefix: as in mmengine's ``BaseMetric``.
    """

    default_prefix = ''

    ROOTS = ('auto', 'wrist', 'palm')

    def __init__(self, root: str = 'auto', root_index: int = 0,
                 pred_key: str = 'pred_keypoints_3d',
                 thresholds: Sequence[float] | None = None,
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
        if root not in self.ROOTS:
            raise ValueError(f'Hand3DMetric: root must be one of {self.ROOTS}, got {root!r}')
        self.root = root
        self.root_index = int(root_index)
        self.pred_key = pred_key
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
        """Keep ``pred``, ``gt`` (flat K*3), ``mask`` (K,) and ``given`` of every sample."""
        for sample in data_samples:
            for key in (self.pred_key, 'keypoints_3d'):
                if key not in sample:
                    raise KeyError(f"Hand3DMetric needs '{key}' in every prediction dict "
                                   f'(mm, (K, 3)); got keys {sorted(sample)}')
            pred = _numpy(sample[self.pred_key]).reshape(-1, 3)
            gt = _numpy(sample['keypoints_3d']).reshape(-1, 3)
            if pred.shape != gt.shape:
                raise ValueError(f'Hand3DMetric: {self.pred_key} {pred.shape} and '
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
            self.results.append(dict(pred=pred.ravel(), gt=gt.ravel(), mask=mask,
                                     given=sample.get(f'{self.pred_key}_given')))

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
        return pred, gt, mask

    def resolve_root(self) -> tuple[str, tuple[int, ...]]:
        """``(name, joints)``: the root's name in the output and the joints it is the mean of."""
        meta = self.dataset_meta or {}
        names = meta.get('keypoint_names') or []
        joint0_is_palm = meta.get('root_joint') == 'palm' or (
            len(names) > self.root_index and names[self.root_index] == 'palm')
        root = self.root
        if root == 'auto':
            root = 'palm' if joint0_is_palm else 'wrist'
        if root == 'wrist':
            if joint0_is_palm:
                raise ValueError("Hand3DMetric: root='wrist', but this dataset's joint 0 is the "
                                 "palm centre (metainfo root_joint='palm'); evaluate with "
                                 "root='palm' or load the dataset with root='wrist'")
            return 'wrist', (self.root_index,)
        return 'palm', ((self.root_index,) if joint0_is_palm else PALM_FROM_WRIST)

    @staticmethod
    def _given(results: list) -> str | None:
        labels = {r.get('given') for r in results}
        if len(labels) > 1:
            raise ValueError(f'Hand3DMetric: the predictions were reconstructed from different '
                             f'granted quantities {sorted(map(str, labels))}; evaluate them '
                             'separately')
        label = labels.pop()
        return None if label is None else str(label)

    def _bones(self) -> Any:
        if self.scale_bone != 'all':
            return self.scale_bone
        limbs = (self.dataset_meta or {}).get('limbs') or [list(b) for b in HAND21.limbs]
        return [list(limb) for limb in limbs]

    # ------------------------------------------------------------------ metrics
    def compute_metrics(self, results: list) -> dict[str, float]:
        pred, gt, mask = self._stack(results)
        root_name, root_joints = self.resolve_root()
        if self.exclude_root and len(root_joints) == 1:
            mask[:, root_joints[0]] = False
        given = self._given(results)
        tail = f'/{root_name}' + (f'/{given}' if given else '')
        MMLogger.get_current_instance().info(
            f'Evaluating Hand3DMetric on {len(pred)} samples ({self.pred_key}, root-relative '
            f'to the {root_name}, mm)...')
        root = root_joints[0] if len(root_joints) == 1 else list(root_joints)
        variants = {'both': (('', None), ('_aligned', self._bones())),
                    True: (('_aligned', self._bones()),),
                    False: (('', None),)}[self.scale_align]
        lo, hi = self.auc_range
        metrics: dict[str, float] = {}
        curves: dict[str, list[float]] = {}
        for suffix, bones in variants:
            errors = joint_errors_3d(pred, gt, root, bones)
            curve = pck_3d_curve(errors, self.thresholds, mask)
            mean, median = epe_3d(errors, mask)
            metrics[f'AUC3D_{lo:g}-{hi:g}{suffix}{tail}'] = auc_3d(self.thresholds, curve,
                                                                   self.auc_range)
            metrics[f'EPE3D{suffix}{tail}'] = mean
            metrics[f'EPE3D_median{suffix}{tail}'] = median
            curves[f'PCK3D{suffix}{tail}'] = curve.tolist()
        if self.out_dir:
            self._write_curves(curves, metrics)
        return metrics

    def _write_curves(self, curves: dict[str, list[float]], metrics: dict[str, float]) -> None:
        os.makedirs(self.out_dir, exist_ok=True)
        stem = ('pck3d_curve' if self.pred_key == 'pred_keypoints_3d'
                else f'pck3d_curve_{self.pred_key}')
        atomic_write_json(dict(thresholds_mm=self.thresholds.tolist(),
                               auc_range_mm=self.auc_range, curves=curves, metrics=metrics),
                          os.path.join(self.out_dir, f'{stem}.json'), indent=1)
        plot_pck_3d(self.thresholds, curves, os.path.join(self.out_dir, f'{stem}.png'),
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
        auc = (metrics or {}).get(f'AUC3D_{auc_range[0]:g}-{auc_range[1]:g}{suffix}')  # same tail
        label = name if auc is None else f'{name} (AUC {auc:.3f})'
        ax.plot(thresholds, curve, lw=1.5, label=label)
    ax.set(xlabel='threshold (mm)', ylabel='3D PCK', ylim=(0, 1.02),
           xlim=(float(thresholds[0]), float(thresholds[-1])),
           title='3D PCK (root-relative)')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc='lower right')
    fig.tight_layout()
    from poseforge.visualization.plots import save_figure
    save_figure(fig, path)
    return path
