"""Fold BatchNorm into the preceding convolution for inference (torch backend).

In eval mode a BatchNorm after a convolution is a per-channel affine map, so it can be folded
into the convolution's weights and bias (``torch.nn.utils.fusion.fuse_conv_bn_eval``): one
pass over the feature map instead of two. The light CPM and the hand detector spend a fifth
of their CPU time in BatchNorm otherwise. onnxruntime does this fold itself when it optimises
the graph; this gives the torch backend the same.
"""
from __future__ import annotations

import copy

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def fuse_conv_bn(module: nn.Module, inplace: bool = False) -> nn.Module:
    """Every ``Conv2d`` directly followed by a ``BatchNorm2d`` in an ``nn.Sequential`` fused
    (the BatchNorm becomes ``Identity``). The module must be in eval mode; its ``state_dict``
    changes, so fuse a copy (the default) of a model you still train or save."""
    if module.training:
        raise ValueError('fuse_conv_bn needs an eval-mode module (BatchNorm statistics frozen)')
    module = module if inplace else copy.deepcopy(module)
    for seq in module.modules():
        if not isinstance(seq, nn.Sequential):
            continue
        names = list(seq._modules)
        for a, b in zip(names, names[1:]):
            conv, norm = seq._modules[a], seq._modules[b]
            if (isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d)
                    and norm.track_running_stats and norm.running_mean is not None):
                seq._modules[a] = fuse_conv_bn_eval(conv, norm)
                seq._modules[b] = nn.Identity()
    return module
