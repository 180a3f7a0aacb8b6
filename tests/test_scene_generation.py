"""Scene options through the generator: labels are the same whatever the look (objects only add
occlusion flags), joints hidden by objects are flagged, and a seed gives the same bytes whatever
the number of workers and across an interrupted run, with every option on."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from poseforge.generation.appearance import LEGACY_SCENE, SceneConfig
from poseforge.generation.synth_hands import GenerationConfig, generate_dataset, render_sample

#: Every option at its most frequent: objects, sleeves, distractors and camera effects always.
EVERYTHING = replace(SceneConfig(), sleeve_prob=1.0, distractor_prob=1.0, object_prob=1.0,
                     motion_blur_prob=1.0, defocus_prob=1.0, downscale_prob=1.0, jpeg_prob=1.0)
TINY = dict(num=4, views=2, size=48, seed=5, test_fraction=0.25)


def _annotations(root) -> list[dict]:
    records = []
    for split in ('train', 'test'):
        data = json.loads((root / 'annotations' / f'{split}.json').read_text())
        images = {im['id']: im for im in data['images']}
        for ann in data['annotations']:
            image = images[ann['image_id']]
            records.append(dict(ann, K=image['K'], R=image['R'], t=image['t']))
    return sorted(records, key=lambda r: r['image_id'])


def _files(root) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob('*'))
            if p.is_file() and p.name != 'gallery.png'}


def test_labels_do_not_depend_on_the_look(tmp_path):
    looks = {'legacy': LEGACY_SCENE, 'realistic': replace(SceneConfig(), object_prob=0.0),
             'objects': EVERYTHING}
    found = {}
    for name, scene in looks.items():
        generate_dataset(tmp_path / name, cfg=GenerationConfig(scene=scene), workers=1, **TINY)
        found[name] = _annotations(tmp_path / name)
    images = {name: sorted((tmp_path / name / 'images').rglob('*.jpg')) for name in looks}
    assert images['legacy'][0].read_bytes() != images['realistic'][0].read_bytes()
    # without objects the geometry is the same: every label, box and flag is equal
    assert found['legacy'] == found['realistic']
    flipped = 0
    for plain, busy in zip(found['legacy'], found['objects']):
        for key in ('keypoints_3d', 'keypoints_3d_world', 'K', 'R', 't'):
            assert plain[key] == busy[key]
        a = np.array(plain['keypoints']).reshape(-1, 3)
        b = np.array(busy['keypoints']).reshape(-1, 3)
        np.testing.assert_array_equal(a[:, :2], b[:, :2])
        changed = a[:, 2] != b[:, 2]
        assert np.all(b[changed, 2] == 1)        # objects only ever hide joints
        flipped += int(changed.sum())
    assert flipped > 0


def test_joints_behind_objects_are_flagged_occluded():
    cfg = GenerationConfig(size=96, views=3, scene=EVERYTHING)
    hidden = 0
    for unit in range(4):
        sample = render_sample(unit, 9, cfg)
        for label, render in zip(sample.labels, sample.renders):
            assert render.objects is not None
            cols, rows = np.rint(label.keypoints).astype(int).T
            inside = (cols >= 0) & (cols < 96) & (rows >= 0) & (rows < 96)
            for j in np.nonzero(inside)[0]:
                r, c = rows[j], cols[j]
                if render.objects[r, c] and render.depth[r, c] < label.keypoints_3d[j, 2]:
                    assert label.visibility[j] == 1
                    hidden += 1
            assert not np.any((render.mask > 0) & (render.objects > 0))
    assert hidden > 0


@pytest.mark.parametrize('workers', [2])
def test_every_option_same_bytes_whatever_workers_and_after_resume(tmp_path, workers):
    cfg = GenerationConfig(scene=EVERYTHING)
    generate_dataset(tmp_path / 'one', cfg=cfg, workers=1, **TINY)
    generate_dataset(tmp_path / 'many', cfg=cfg, workers=workers, **TINY)

    class Stop(Exception):
        pass

    def stop_after_two(unit: int, seen=[]) -> None:   # noqa: B006 (call-local by design)
        seen.append(unit)
        if len(seen) == 2:
            raise Stop
    with pytest.raises(Stop):
        generate_dataset(tmp_path / 'resumed', cfg=cfg, workers=1, after_unit=stop_after_two,
                         **TINY)
    generate_dataset(tmp_path / 'resumed', cfg=cfg, workers=1, **TINY)
    one = _files(tmp_path / 'one')
    assert one == _files(tmp_path / 'many') == _files(tmp_path / 'resumed')


def test_cli_scene_and_grasp_options_reach_the_generator(tmp_path, capsys):
    import generate_dataset as cli   # tools/ is on sys.path (conftest)
    tiny = ['--num', '1', '--views', '1', '--size', '32', '--workers', '1', '--no-depth']
    legacy, custom = tmp_path / 'legacy', tmp_path / 'custom'
    assert cli.main(['--out', str(legacy), *tiny, '--scene', 'legacy', '--grasp-prob', '0']) == 0
    assert cli.main(['--out', str(custom), *tiny, '--scene-options',
                     '{"object_prob": 0, "sleeve_prob": 1, "lights": [2, 2]}']) == 0
    recorded = {name: json.loads((tmp_path / name / 'generation.json').read_text())['config']
                for name in ('legacy', 'custom')}
    assert recorded['legacy']['scene']['preset'] == 'legacy'
    assert recorded['legacy']['prior']['grasp_prob'] == 0.0
    want = json.loads(json.dumps(dict(SceneConfig().to_dict(), object_prob=0, sleeve_prob=1,
                                      lights=[2, 2])))
    assert recorded['custom']['scene'] == want
    assert recorded['custom']['prior']['grasp_prob'] == GenerationConfig().prior.grasp_prob
    # the same folder with another look is another dataset: refused, nothing overwritten
    before = _files(legacy)
    capsys.readouterr()
    assert cli.main(['--out', str(legacy), *tiny]) == 2
    assert 'other settings' in capsys.readouterr().err
    assert _files(legacy) == before
    for bad in ('{"glitter": 1}', '[1]', '{"background": "photo"}'):
        with pytest.raises(SystemExit) as stop:
            cli.parse_args(['--out', str(tmp_path / 'x'), *tiny, '--scene-options', bad])
        assert stop.value.code == 2
    assert 'glitter' in capsys.readouterr().err
