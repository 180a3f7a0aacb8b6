"""``import poseforge`` is light: the generator (and its workers) run on numpy, scipy, trimesh
and OpenCV alone, and the registries still find every type when a config is built."""
from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys

import poseforge
from conftest import ROOT

HEAVY = ('torch', 'mmengine', 'albumentations', 'matplotlib', 'pycocotools')


def run_python(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON object, returned here."""
    proc = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_generation_imports_and_renders_without_torch_or_mmengine():
    out = run_python(f"""
import json, sys
import poseforge
light = [m for m in {HEAVY!r} if m in sys.modules]
import poseforge.generation
from poseforge.generation import GenerationConfig, render_sample
sample = render_sample(0, 0, GenerationConfig(size=32, views=1, gallery=False))
print(json.dumps(dict(after_package=light, loaded=[m for m in {HEAVY!r} if m in sys.modules],
                      views=len(sample.labels), joints=len(sample.labels[0].keypoints),
                      pixels=int((sample.renders[0].part > 0).sum()))))
""")
    assert out['after_package'] == [] and out['loaded'] == []
    assert out['views'] == 1 and out['joints'] == 21 and out['pixels'] > 0  # it rendered a hand


def test_registries_find_every_type_from_their_locations():
    """A fresh process builds a config's model and hooks with nothing imported but the
    registry; then the registries' locations register exactly what importing every module of
    the package registers."""
    config = ROOT / 'configs' / 'nsrm' / 'nsrm_lpm-g1and6_synth-hands-128.py'
    fresh = run_python(f"""
import json, sys
from mmengine.config import Config
from poseforge.registry import ALL_REGISTRIES, HOOKS, MODELS, register_all_modules
cfg = Config.fromfile({str(config)!r})
before = 'poseforge.models' in sys.modules
model = MODELS.build(cfg.model)
hook = HOOKS.build(cfg.custom_hooks[-1])
built = [type(model.backbone).__name__, type(model.head).__name__, type(hook).__name__]
register_all_modules()
names = {{r.name: sorted(r.module_dict) for r in ALL_REGISTRIES}}
print(json.dumps(dict(before=before, built=built, names=names)))
""")
    assert fresh['before'] is False  # nothing imported the models until the build did
    assert fresh['built'] == ['NSRM', 'NSRMHead', 'LimbWeightDecayHook']
    for module in pkgutil.walk_packages(poseforge.__path__, 'poseforge.'):
        importlib.import_module(module.name)
    from poseforge.registry import ALL_REGISTRIES
    # poseforge's own classes (other tests of this session may register stand-ins)
    everything = {r.name: sorted(name for name, obj in r.module_dict.items()
                                 if getattr(obj, '__module__', '').startswith('poseforge.'))
                  for r in ALL_REGISTRIES}
    assert fresh['names'] == everything
    assert {'NSRM', 'NSRMHead', 'RMGMN', 'RMGMNHead', 'SIAGCN', 'CPM'} <= set(everything['model'])
    assert 'LimbWeightDecayHook' in everything['hook']


def test_package_attributes_load_on_first_use():
    out = run_python("""
import json, sys
import poseforge
before = sorted(m for m in sys.modules if m.startswith('poseforge'))
skeleton = poseforge.skeletons.HAND21.num_keypoints
print(json.dumps(dict(before=before, skeleton=skeleton, version=poseforge.__version__,
                      listed='models' in dir(poseforge))))
""")
    assert out['before'] == ['poseforge'] and out['skeleton'] == 21
    assert out['version'] == poseforge.__version__ and out['listed']
