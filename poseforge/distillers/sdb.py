"""Safe Distillation Box: a teacher that distils well only for holders of a key (arXiv 2112.03695).

Ye et al. (AAAI 2022; JngwenYe/SDB, zju-vipa/KamalEngine ``safe_distillation_box.py``) wrap a
released model in a "box": it predicts normally for everyone, but what it outputs on plain
inputs misleads a student distilled from it, while its outputs on *keyed* inputs carry good
("augmented") knowledge. The key is a fixed noise image blended into the (normalised) input::

    x' = lambda * x + (1 - lambda) * key,        lambda = 0.9

Training the boxed model ``B`` (here the distiller's ``student`` attribute, the model to
release) against a frozen normally trained model ``A`` (``teacher``: the adversary a thief
would obtain by ordinary training) and, optionally, a frozen randomly initialised model ``R``::

    L = 2 L_gt(B(x)) + L_gt(B(x'))
        - w [ tau^2 KL(B(x) || A(x)) - KL(B(x) || B(x')) ]        (B(x') detached)
        + MSE(sm(A(x) / tau), sm(B(x') / tau))
        - eta [ 0.01 MSE(relu A(x), relu B(x')) - MSE(relu R(x), relu B(x')) ]

following the reference code's terms (``get_loss_tch_1``, ``get_adv_loss_1/2``,
``get_random_loss``): ``KL(p || q)`` is ``sum p (log p - log q)`` over each joint's H*W pixels
(spatial softmax; :func:`~poseforge.distillers.losses.spatial_softmax_kl`), ``sm`` the spatial
softmax; ``tau 4, w 1, eta 0.001`` in the paper. Adaptations to heatmaps (each stated;
defaults ``tau 0.1, w 0.04``, the nasty teacher's, for the reason given there: the subtracted
KL is unbounded and only the GT heatmap MSE bounds it):

* ``L_gt`` is the estimator's heatmap loss (``CE -> heatmap MSE``);
* the adversarial KL and the softmax MSE use the heatmap temperature ``tau`` (default 0.1, see
  :mod:`~poseforge.distillers.nasty`: MSRA heatmaps span 0..1, not the ~10-20 units of
  classification logits for which the paper's ``tau = 4`` was chosen); the plain-to-keyed KL
  keeps the reference code's temperature 1 and no ``tau^2`` (on 0..1 heatmaps it is then a
  small term, as it is next to the ``tau^2``-scaled adversarial KL in the reference);
* the softmax MSE sums over the pixels of each joint (a mean over H*W pixels of probabilities
  that are each ~1/(H W) would vanish) and averages over ``(B, K)`` with the keypoint weights.

Using a boxed teacher: evaluation and inference on plain images (``predict_with='student'``;
the exported plain checkpoint) is the model's normal behaviour; ``'keyed'`` evaluates it on
keyed inputs. A student distilled *with* the key is :class:`KeyedKDDistiller` (the teacher sees
keyed crops); *without* it, an ordinary :class:`~poseforge.distillers.kd.KDDistiller`.

The key file (``tools/sdb_key.py`` writes one): a ``.npy`` float32 array ``(3, H, W)`` in the
network's normalised input space, ``H x W`` the input crop. It is loaded with
``allow_pickle=False``; a missing, unreadable or wrong-shaped key is a :class:`KeyFileError`
naming the file.
"""
from __future__ import annotations

import os
import os.path as osp
import tempfile
from typing import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from poseforge.distillers.base import BaseDistiller
from poseforge.distillers.kd.distiller import KDDistiller, _size_hw
from poseforge.distillers.kd.losses.heatmap import weighted_heatmap_mse
from poseforge.distillers.losses import spatial_softmax_kl
from poseforge.distillers.nasty import final_heatmaps
from poseforge.registry import MODELS
from poseforge.utils.config import ConfigError

#: the paper's blending factor: x' = 0.9 x + 0.1 key
DEFAULT_LAMBDA = 0.9


class KeyFileError(ConfigError):
    """A distillation-box key file is missing, unreadable or of the wrong shape."""


# ---------------------------------------------------------------------- key files
def make_key(size_hw: Sequence[int], seed: int = 0, channels: int = 3) -> np.ndarray:
    """A key: standard normal noise ``(channels, H, W)`` float32 from ``seed`` (normalised input
    space, where images have roughly unit variance)."""
    rng = np.random.default_rng(int(seed))
    return rng.standard_normal((int(channels), int(size_hw[0]), int(size_hw[1]))
                               ).astype(np.float32)


def save_key(path: str | os.PathLike, key: np.ndarray) -> None:
    """Write ``key`` to ``path`` (``.npy``) atomically (a temporary file renamed into place)."""
    path = os.fspath(path)
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, suffix='.npy.tmp')
    try:
        with os.fdopen(fd, 'wb') as handle:
            np.save(handle, np.asarray(key, dtype=np.float32), allow_pickle=False)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.unlink(tmp)
        raise


def load_key(path: str | os.PathLike, size_hw: Sequence[int] | None = None,
             channels: int = 3) -> Tensor:
    """The key of ``path`` as a float32 ``(channels, H, W)`` tensor.

    Raises:
        KeyFileError: the file is missing, not a ``.npy`` array, not finite, or not of shape
            ``(channels, H, W)`` (``size_hw`` = the input crop, when given); the message names
            the file and what is wrong.
    """
    path = os.fspath(path)
    if not osp.isfile(path):
        raise KeyFileError(f"distillation-box key file not found: '{path}' (the key is a file "
                           'its owner keeps; tools/sdb_key.py writes one)')
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise KeyFileError(f"distillation-box key file '{path}' is not a .npy array: "
                           f'{err}') from err
    expected = (int(channels),) + (tuple(int(s) for s in size_hw) if size_hw is not None
                                   else tuple(array.shape[1:]))
    if array.ndim != 3 or tuple(array.shape) != expected:
        raise KeyFileError(f"distillation-box key file '{path}' holds an array of shape "
                           f'{tuple(array.shape)}; expected {expected} (channels, H, W of the '
                           'network input crop)')
    if not np.issubdtype(array.dtype, np.floating) or not np.isfinite(array).all():
        raise KeyFileError(f"distillation-box key file '{path}' must hold finite floats, got "
                           f'dtype {array.dtype}')
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def blend_key(inputs: Tensor, key: Tensor, lam: float = DEFAULT_LAMBDA) -> Tensor:
    """``lam * x + (1 - lam) * key`` for a batch ``(B, C, H, W)`` and a key ``(C, H, W)``:
    deterministic (no randomness), the same key for every sample."""
    if tuple(key.shape) != tuple(inputs.shape[1:]):
        raise ValueError(f'the key has shape {tuple(key.shape)}, the inputs '
                         f'{tuple(inputs.shape[1:])} per sample')
    key = key.to(device=inputs.device, dtype=inputs.dtype)
    return lam * inputs + (1.0 - lam) * key.unsqueeze(0)


class KeyMixin:
    """A registered buffer ``sdb_key`` loaded from a key file (kept out of checkpoints: the key
    stays with its owner, not in every model file)."""

    def _load_key(self, key_file: str, size_hw: Sequence[int], key_lambda: float) -> None:
        if not 0.0 < float(key_lambda) <= 1.0:
            raise ConfigError(f'key_lambda must be in (0, 1], got {key_lambda}')
        self.key_file = os.fspath(key_file)
        self.key_lambda = float(key_lambda)
        self.register_buffer('sdb_key', load_key(self.key_file, size_hw), persistent=False)

    def keyed(self, inputs: Tensor) -> Tensor:
        """The inputs blended with the key."""
        return blend_key(inputs, self.sdb_key, self.key_lambda)


def _input_hw(estimator: nn.Module, fallback: Sequence[int] | None = None) -> tuple[int, int]:
    decoder = getattr(getattr(estimator, 'head', None), 'decoder', None)
    size = getattr(decoder, 'input_size', None)
    if size is None:
        if fallback is None:
            raise ConfigError('cannot tell the input crop size (the head has no codec with '
                              'input_size): give input_size=(w, h)')
        return tuple(fallback)
    return _size_hw(tuple(size), 'codec input_size')


# ---------------------------------------------------------------------- losses
def weighted_kl(p_maps: Tensor, q_maps: Tensor, weights: Tensor, tau: float) -> Tensor:
    """``mean_{b,k} w_bk * KL(sm(p / tau) || sm(q / tau))`` (gradient through both sides)."""
    return (spatial_softmax_kl(q_maps, p_maps, tau) * weights.float()).mean()


def softmax_mse(a: Tensor, b: Tensor, weights: Tensor, tau: float) -> Tensor:
    """``mean_{b,k} w_bk * sum_pixels (sm(a / tau) - sm(b / tau))^2``."""
    pa = torch.softmax(a.float().flatten(2) / tau, dim=-1)
    pb = torch.softmax(b.float().flatten(2) / tau, dim=-1)
    return ((pa - pb).square().sum(-1) * weights.float()).mean()


def relu_mse(a: Tensor, b: Tensor, weights: Tensor) -> Tensor:
    """Keypoint-weighted heatmap MSE of the rectified maps (the reference's random loss)."""
    return weighted_heatmap_mse(torch.relu(a), torch.relu(b), weights)


def sdb_terms(plain: Tensor, keyed: Tensor, adversary: Tensor, weights: Tensor, tau: float,
              random: Tensor | None = None) -> dict[str, Tensor]:
    """The distillation-box terms (module docstring) apart from the GT losses.

    Args:
        plain / keyed: the boxed model's maps on ``x`` and on ``x'`` (with gradient).
        adversary: the frozen normal model's maps on ``x``.
        weights: ``(B, K)`` keypoint weights.
        random: the frozen random model's maps on ``x`` (``None``: no random term).
    Returns:
        ``adv_kl`` (``tau^2 KL(B(x) || A(x))`` at ``tau``), ``key_kl``
        (``KL(B(x) || B(x')^detached)`` at temperature 1),
        ``adv_mse`` (softmax MSE of ``A(x)`` and ``B(x')``), ``random`` (the random term, or 0).
    """
    adversary = adversary.detach()
    terms = {
        'adv_kl': weighted_kl(plain, adversary, weights, tau) * tau * tau,
        'key_kl': weighted_kl(plain, keyed.detach(), weights, 1.0),
        'adv_mse': softmax_mse(adversary, keyed, weights, tau),
    }
    if random is None:
        terms['random'] = plain.new_zeros(())
    else:
        random = random.detach()
        terms['random'] = (0.01 * relu_mse(adversary, keyed, weights)
                           - relu_mse(random, keyed, weights))
    return terms


def sdb_objective(terms: Mapping[str, Tensor], weight: float, eta: float) -> Tensor:
    """``-w (adv_kl - key_kl) + adv_mse - eta * random`` (the GT losses are added apart)."""
    return (-weight * (terms['adv_kl'] - terms['key_kl']) + terms['adv_mse']
            - eta * terms['random'])


# ---------------------------------------------------------------------- distillers
@MODELS.register_module()
class SDBDistiller(KeyMixin, BaseDistiller):
    """Trains ``student`` (the model to release) into a distillation box.

    Args:
        student: model dict / config file of the boxed model to train.
        teacher: the frozen normally trained model (the adversary ``A``; same crop and grid).
        teacher_checkpoint: its weights.
        key_file: the key (``.npy``, ``(3, H, W)`` of the crop); see :func:`load_key`.
        key_lambda: ``lambda`` of the blend (0.9).
        tau / weight / eta: the temperature, ``w`` and ``eta`` (module docstring).
        random_model: build the frozen random model ``R`` (from the student's config, seeded)
            for the ``eta`` term; ``False`` drops that term (and its forward pass).
        random_seed: the seed of ``R``'s initialisation.
        gt_weights: the weights of ``L_gt(B(x))`` and ``L_gt(B(x'))`` (2, 1).
        predict_with: ``'student'`` (plain inputs), ``'keyed'`` (keyed inputs) or ``'teacher'``.
    """

    def __init__(self, student: dict | str, teacher: dict | str, key_file: str,
                 teacher_checkpoint: str | None = None, key_lambda: float = DEFAULT_LAMBDA,
                 tau: float = 0.1, weight: float = 0.04, eta: float = 0.001,
                 random_model: bool = True, random_seed: int = 0,
                 gt_weights: Sequence[float] = (2.0, 1.0), predict_with: str = 'student',
                 init_cfg: dict | None = None) -> None:
        super().__init__(predict_with=predict_with, init_cfg=init_cfg)
        if tau <= 0:
            raise ConfigError(f'SDBDistiller: tau must be > 0, got {tau}')
        self.student = self.build_student(student)
        self._load_key(key_file, _input_hw(self.student), key_lambda)
        self.add_frozen_teacher('teacher', teacher, teacher_checkpoint)
        self.tau, self.weight, self.eta = float(tau), float(weight), float(eta)
        self.gt_weights = tuple(float(w) for w in gt_weights)
        if len(self.gt_weights) != 2:
            raise ConfigError(f'gt_weights: two weights (plain, keyed), got {gt_weights!r}')
        if random_model and self.eta != 0:
            with torch.random.fork_rng():
                torch.manual_seed(int(random_seed))
                random = MODELS.build(self.student_config())  # constructor's own init
            # random weights are the point: saved with the distiller so a resume sees the same R
            self.add_frozen_teacher('random_model', random, None, keep_in_state_dict=True)
        self.record(['student.backbone'])

    def _maps(self, inputs: Tensor, data_samples: Mapping) -> tuple[dict, Tensor]:
        with self.recorder.recording():
            losses = self.student(inputs, data_samples, mode='loss')
            maps = final_heatmaps(self.student, self.recorder['student.backbone'])
        return losses, maps

    @staticmethod
    def _frozen_maps(model: nn.Module, inputs: Tensor) -> Tensor:
        with torch.no_grad():
            return final_heatmaps(model, model(inputs, mode='tensor')).detach()

    def loss(self, inputs: Tensor, data_samples: Mapping) -> dict[str, Tensor]:
        """``loss_kpt`` (2 x GT on ``x``), ``loss_kpt_keyed`` (GT on ``x'``), ``loss_sdb`` (the
        rest, optimised) and each term logged unweighted (``sdb_<term>``)."""
        gt_plain, plain = self._maps(inputs, data_samples)
        gt_keyed, keyed = self._maps(self.keyed(inputs), data_samples)
        adversary = self._frozen_maps(self.teacher, inputs)
        if adversary.shape != plain.shape:
            raise ConfigError(f'SDBDistiller: the adversary predicts maps of shape '
                              f'{tuple(adversary.shape)}, the boxed model {tuple(plain.shape)}')
        random = (self._frozen_maps(self.random_model, inputs)
                  if 'random_model' in self._frozen else None)
        weights = data_samples['keypoint_weights'].float().reshape(plain.shape[:2])
        terms = sdb_terms(plain, keyed, adversary, weights, self.tau, random)
        losses = {k: v * self.gt_weights[0] if k.startswith('loss') else v
                  for k, v in gt_plain.items()}
        losses['loss_kpt_keyed'] = gt_keyed['loss_kpt'] * self.gt_weights[1]
        losses['loss_sdb'] = sdb_objective(terms, self.weight, self.eta)
        losses.update({f'sdb_{k}': v.detach() for k, v in terms.items()})
        return losses

    def keyed_predict(self, inputs: Tensor, data_samples: Mapping | None = None) -> list[dict]:
        """The boxed model's predictions on keyed crops (what a key holder's teacher sees)."""
        return self.student.predict(self.keyed(inputs), data_samples)

    def prediction_targets(self) -> dict:
        targets = {'student': self.student.predict, 'keyed': self.keyed_predict,
                   'teacher': self.teacher.predict}
        return targets


@MODELS.register_module()
class KeyedKDDistiller(KeyMixin, KDDistiller):
    """:class:`~poseforge.distillers.kd.KDDistiller` for a key holder: the teacher (a boxed
    model) sees its input crop blended with the key, so its maps carry the box's good knowledge.

    Args:
        key_file / key_lambda: the key (see :func:`load_key`) and ``lambda``.
        **kwargs: :class:`~poseforge.distillers.kd.KDDistiller`'s arguments.
    """

    def __init__(self, key_file: str, key_lambda: float = DEFAULT_LAMBDA, **kwargs) -> None:
        # the key's size is the teacher's input; known once the teacher is built, but the probe
        # of KDDistiller's losses already runs teacher_inputs(): load the key lazily then
        self._pending_key = (key_file, key_lambda)
        super().__init__(**kwargs)
        self._ensure_key()

    def _ensure_key(self) -> None:
        if getattr(self, '_pending_key', None) is None:
            return
        key_file, key_lambda = self._pending_key
        self._pending_key = None
        size = self.teacher_input_hw or _input_hw(self.teacher)
        self._load_key(key_file, size, key_lambda)

    def teacher_inputs(self, inputs: Tensor) -> Tensor:
        self._ensure_key()
        return self.keyed(super().teacher_inputs(inputs))
