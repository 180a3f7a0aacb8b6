#!/usr/bin/env python
"""Export a top-down model's heatmap network to ONNX, and check it against torch.

    python tools/export_onnx.py CONFIG CHECKPOINT --out model.onnx [--dynamic-batch]
                                [--batch-size N] [--simplify] [--opset 18] [--no-check]

The graph takes normalised crops ``(B, 3, H, W)`` float32 (``H, W`` the config's crop size) and
returns the final heatmaps ``(B, K, h, w)``; normalisation and decoding stay in poseforge
(``--backend onnxruntime`` in tools/eval.py, tools/video_demo.py, tools/webcam_demo.py and
``poseforge.apis.init_model(..., backend='onnxruntime')`` load the file). After writing, the
file is run in onnxruntime on random crops and compared with torch: the largest heatmap
difference is printed and the export fails if it exceeds ``--atol`` (1e-4).
Needs the deploy extra: pip install -e '.[deploy]'.
"""
from __future__ import annotations

import argparse
import sys

from _common import user_errors_exit

import numpy as np
import torch


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out', required=True, help='the .onnx file to write')
    parser.add_argument('--dynamic-batch', action='store_true', help='a dynamic batch axis')
    parser.add_argument('--batch-size', type=int, default=1,
                        help='the fixed batch size (without --dynamic-batch)')
    parser.add_argument('--simplify', action='store_true', help='simplify with onnxsim')
    parser.add_argument('--opset', type=int, default=18)
    parser.add_argument('--atol', type=float, default=1e-4,
                        help='largest heatmap difference to torch accepted by the check')
    parser.add_argument('--no-check', action='store_true', help='skip the onnxruntime check')
    return parser.parse_args(argv)


def check_against_torch(model: torch.nn.Module, path: str, batch: int) -> float:
    """Largest |heatmap difference| between onnxruntime and torch on random crops."""
    from poseforge.deploy import OrtSession, model_input_size
    w, h = model_input_size(model)
    inputs = torch.randn(batch, 3, h, w, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model.head.predict(model.backbone(inputs)).float().numpy()
    got = OrtSession(path)(inputs.numpy())
    return float(np.abs(got - expected).max())


def main(argv=None) -> int:
    args = parse_args(argv)
    from poseforge.deploy import DeployError, export_onnx
    with user_errors_exit('export_onnx.py'):
        try:
            from poseforge.apis import init_model
            model = init_model(args.config, args.checkpoint)
            if not hasattr(model, 'head') or not hasattr(model.head, 'decoder'):
                raise DeployError(f"'{args.config}': not a top-down heatmap model")
            path = export_onnx(model, args.out, dynamic_batch=args.dynamic_batch,
                               batch_size=args.batch_size, simplify=args.simplify,
                               opset=args.opset)
            print(f'written {path}')
            if not args.no_check:
                batch = 3 if args.dynamic_batch else args.batch_size
                diff = check_against_torch(model, path, batch)
                print(f'onnxruntime vs torch, batch {batch}: max |heatmap difference| '
                      f'{diff:.2e}')
                if not diff <= args.atol:
                    raise DeployError(f'the exported model differs from torch by {diff:.2e} '
                                      f'(> --atol {args.atol:g})')
        except DeployError as err:
            print(f'export_onnx.py: error: {err}', file=sys.stderr)
            return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
