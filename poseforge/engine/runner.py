"""``PoseRunner``: mmengine's Runner with poseforge's checkpoint safety, strict loading and
exact resume always on."""
from __future__ import annotations

import copy
from typing import Any, Callable

import torch
from mmengine.config import Config
from mmengine.dist import get_rank
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

from poseforge.engine.checkpoint import DEFAULT_REVISE_KEYS, PortableCheckpointHook, load_weights
from poseforge.engine.hooks import EvalProgressHook
from poseforge.engine.reproducibility import ReproducibilityHook, seed_worker, set_rng_state
from poseforge.registry import RUNNERS


class _TextCachingConfig(Config):
    """A ``Config`` that formats ``pretty_text`` once per content: mmengine's Runner asks for
    it at start-up (log, dump) and for every checkpoint, and each time yapf reformats the
    whole config, about as much CPU as a tiny model's training iteration."""

    @property
    def pretty_text(self) -> str:
        key = str(self._cfg_dict)
        cache = self.__dict__.get('_pretty_cache')
        if cache is None or cache[0] != key:
            cache = (key, Config.pretty_text.fget(self))
            object.__setattr__(self, '_pretty_cache', cache)
        return cache[1]


@RUNNERS.register_module()
class PoseRunner(Runner):
    """mmengine's ``Runner`` with:

    * :class:`PortableCheckpointHook` whatever the config says, so that no poseforge run can
      write a checkpoint that poseforge itself refuses to load; :class:`EvalProgressHook` for a
      progress bar over evaluation; :class:`ReproducibilityHook` for exact resume.
    * Strict weight loading (:func:`~poseforge.engine.checkpoint.load_weights`): ``resume``
      always, ``load_from`` unless the config sets ``load_strict = False`` (fine-tuning from
      another model), in which case the log says what was and was not loaded.
    * On resume, the global RNG states and the sampler's seed of the checkpoint.
    * Dataloaders that pin memory by default when training on a GPU (so
      ``PoseDataPreprocessor``'s ``non_blocking`` copies overlap with compute) and seed their
      workers by epoch (:func:`~poseforge.engine.reproducibility.seed_worker`).
    """

    ALWAYS_ON = (PortableCheckpointHook, EvalProgressHook, ReproducibilityHook)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        cfg = kwargs.get('cfg')
        if type(cfg) is Config:  # the Runner deep-copies it: the copy keeps the class
            object.__setattr__(cfg, '__class__', _TextCachingConfig)
        super().__init__(*args, **kwargs)

    _resuming: bool = False
    _resumed: dict | None = None
    #: What the last ``load_from`` matched (a :class:`LoadReport`); ``None`` before any load.
    load_report = None

    def register_hooks(self, default_hooks=None, custom_hooks=None) -> None:
        super().register_hooks(default_hooks, custom_hooks)
        for hook_type in self.ALWAYS_ON:
            if not any(isinstance(h, hook_type) for h in self.hooks):
                self.register_hook(hook_type())

    # ------------------------------------------------------------------ loading
    def load_checkpoint(self, filename: str, map_location: str | Callable = 'cpu',
                        strict: bool | None = None, revise_keys=DEFAULT_REVISE_KEYS) -> dict:
        """Load ``filename``'s weights into the model (strictly unless told otherwise).

        ``strict=None`` (what mmengine's ``load_or_resume`` passes): strict when resuming, else
        the config's ``load_strict`` (default ``True``).
        """
        from mmengine.runner.checkpoint import _load_checkpoint
        if strict is None:
            strict = True if self._resuming else bool(self.cfg.get('load_strict', True))
        checkpoint = _load_checkpoint(filename, map_location=map_location)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(self.model) else self.model
        report = load_weights(model, checkpoint, strict=strict, revise_keys=revise_keys,
                              source=filename)
        self.load_report = report
        self._has_loaded = True
        if self._resuming:
            self._resumed = checkpoint
        elif report.exact:
            self.logger.info(f'Loaded every weight from {filename}')
        else:
            self.logger.warning(f'Partial load (load_strict=False): {report.summary()}')
        return checkpoint

    def resume(self, filename: str, resume_optimizer: bool = True,
               resume_param_scheduler: bool = True, map_location='default') -> None:
        """mmengine's resume (weights strictly), then the RNG states and the sampler seed."""
        self._resuming = True
        try:
            super().resume(filename, resume_optimizer, resume_param_scheduler, map_location)
        finally:
            self._resuming = False
        checkpoint, self._resumed = self._resumed or {}, None
        if 'rng_state' in checkpoint:
            set_rng_state(checkpoint['rng_state'])
        seed = checkpoint.get('meta', {}).get('seed')
        sampler = getattr(self.train_dataloader, 'sampler', None)
        if seed is not None and hasattr(sampler, 'seed'):
            sampler.seed = seed

    # ------------------------------------------------------------------ data
    @staticmethod
    def build_dataloader(dataloader: Any, seed: int | None = None,
                         diff_rank_seed: bool = False):
        """mmengine's ``build_dataloader``, with two defaults a config's own values override:
        ``pin_memory`` is whether CUDA is available (pinned host buffers make the host-to-GPU
        copy asynchronous; on a CPU-only machine pinning would only cost, and warn), and
        ``worker_init_fn`` is :func:`seed_worker` (seeds by epoch, not the same every epoch)."""
        if isinstance(dataloader, dict):
            dataloader = copy.copy(dataloader)
            dataloader.setdefault('pin_memory', torch.cuda.is_available())
            if seed is not None and 'worker_init_fn' not in dataloader:
                rank = get_rank()
                dataloader['worker_init_fn'] = dict(
                    type=seed_worker, seed=seed + rank if diff_rank_seed else seed, rank=rank)
        return Runner.build_dataloader(dataloader, seed=seed, diff_rank_seed=diff_rank_seed)
