"""Python entry points: build a model from a config and run it on images."""
from .inference import inference_topdown, init_model

__all__ = ['init_model', 'inference_topdown']
