"""The generator's scene options (poseforge.generation.appearance / realistic / backgrounds /
occluders): each changes the picture as it says and only there, the mask stays exactly the
visible hand, the legacy look and every label-relevant draw are untouched, objects hide joints.
"""
from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from poseforge.generation.appearance import (LEGACY_SCENE, SKIN_LADDER, Light, ObjectSpec,
                                             SceneConfig, Sleeve, sample_skin_tone)
from poseforge.generation.backgrounds import clutter_background
from poseforge.generation.hand_model import HAND_PART_MIN, PART_FOREARM
from poseforge.generation.occluders import object_occlusion
from poseforge.generation.renderer import (make_background, rasterize, render_view,
                                           sample_appearance, sample_skin, vertex_albedo)

#: Every option off: one white light, no detail, no sleeve, no objects, no camera effects.
PLAIN = SceneConfig(skin_detail=False, lights=(1, 1), coloured_lights=0.0, shadows=False,
                    sleeve_prob=0.0, distractor_prob=0.0, object_prob=0.0, motion_blur_prob=0.0,
                    defocus_prob=0.0, downscale_prob=0.0, jpeg_prob=0.0, noise=(0.0, 0.0),
                    white_balance=0.0, exposure=(1.0, 1.0))
SIZE = 112


def luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.2126, 0.7152, 0.0722])


@pytest.fixture(scope='module')
def scene():
    """A posed hand, a camera that sees hand and forearm, a fixed background, a plain look."""
    from poseforge.generation.skinning import skin
    from poseforge.generation.synth_hands import GenerationConfig, setup_unit
    from poseforge.generation.template import hand_template
    cfg = GenerationConfig(size=SIZE, views=1)
    for unit in range(20):
        setup = setup_unit(unit, 3, cfg)
        mesh = skin(hand_template(), setup.poses[0])
        camera = setup.cameras[0]
        frags = rasterize(camera.to_camera(mesh.vertices), mesh.faces, camera.K, SIZE, SIZE)
        part = np.where(frags.face >= 0, mesh.face_part[np.maximum(frags.face, 0)], 0)
        if (part == PART_FOREARM).sum() > 150 and (part >= HAND_PART_MIN).sum() > 800:
            break
    background = np.full((SIZE, SIZE, 3), 0.5, np.float32)
    background[:, : SIZE // 2] = (0.2, 0.45, 0.3)
    appearance = sample_appearance(np.random.default_rng(5), PLAIN)
    return dict(mesh=mesh, camera=camera, background=background, appearance=appearance,
                joints=setup.poses[0].world_joints())


def render(scene, look=None, **look_changes):
    appearance = scene['appearance']
    look = replace(look or appearance.look, **look_changes)
    appearance = replace(appearance, look=look)
    albedo = vertex_albedo(scene['mesh'], appearance)
    return render_view(scene['mesh'], albedo, scene['camera'], appearance,
                       scene['background'], np.random.default_rng(1))


def assert_exact_mask(result):
    """The mask is exactly the pixels whose nearest surface is the hand (palm, thenar,
    fingers): never the forearm, never an object, never the background."""
    assert set(np.unique(result.mask)) <= {0, 255}
    np.testing.assert_array_equal(result.mask > 0, result.part >= HAND_PART_MIN)
    assert np.all(result.depth[result.mask > 0] > 0)
    if result.objects is not None:
        assert not np.any((result.objects > 0) & (result.mask > 0))


def changed(a, b, tol: int = 2) -> np.ndarray:
    return np.abs(a.rgb.astype(int) - b.rgb.astype(int)).max(2) > tol


def near(region: np.ndarray, pixels: int = 2) -> np.ndarray:
    return cv2.dilate(region.astype(np.uint8), np.ones((2 * pixels + 1,) * 2, np.uint8)) > 0


# --------------------------------------------------------------------------- draws
def test_legacy_scene_is_the_original_look_and_options_never_move_label_draws():
    plain, legacy = np.random.default_rng(7), np.random.default_rng(7)
    original = sample_appearance(plain)
    again = sample_appearance(legacy, LEGACY_SCENE)
    assert again.look is None and np.array_equal(again.skin, original.skin)
    assert again.light_dir.tolist() == original.light_dir.tolist()
    for scene in (SceneConfig(), PLAIN, replace(SceneConfig(), object_prob=1.0)):
        rng = np.random.default_rng(7)
        look = sample_appearance(rng, scene)
        assert look.look is not None
        # poses and cameras are drawn next from the same generator: they cannot change
        assert rng.bit_generator.state == plain.bit_generator.state


def test_skin_tones_span_the_human_range():
    rng = np.random.default_rng(0)
    full = luminance(np.array([sample_skin_tone(rng) for _ in range(400)]))
    legacy = luminance(np.array([sample_skin(rng) for _ in range(400)]))
    assert full.min() < 0.17 < legacy.min()
    assert full.max() > 0.85 > legacy.max()
    assert luminance(SKIN_LADDER).min() < 0.12 and luminance(SKIN_LADDER).max() > 0.88


# --------------------------------------------------------------------------- options
def test_plain_render_mask_is_exact(scene):
    result = render(scene)
    assert_exact_mask(result)
    assert (result.part == PART_FOREARM).sum() > 150


def test_skin_detail_marks_the_skin_only(scene):
    base = render(scene)
    detailed = render(scene, detail=sample_appearance(np.random.default_rng(2),
                                                      SceneConfig()).look.detail)
    assert_exact_mask(detailed)
    np.testing.assert_array_equal(detailed.mask, base.mask)
    diff = changed(base, detailed)
    assert diff.sum() > 20
    assert not np.any(diff & ~near(base.part > 0, 1))      # only on skin (+ its soft edge)
    skin_px = base.part > 0
    darker = luminance(detailed.rgb[skin_px].astype(float)) < \
        luminance(base.rgb[skin_px].astype(float)) - 3
    assert darker.sum() > 10                                 # creases and knuckles darken


def test_sleeve_covers_the_forearm_only(scene):
    base = render(scene)
    blue = Sleeve(start=25.0, color=np.array([0.1, 0.2, 0.9]), pattern='plain', period=8.0,
                  accent=np.array([0.9, 0.9, 0.1]), cuff=0.0)
    sleeved = render(scene, sleeve=blue)
    assert_exact_mask(sleeved)
    for key in ('mask', 'part', 'depth'):
        np.testing.assert_array_equal(getattr(sleeved, key), getattr(base, key))
    arm = base.part == PART_FOREARM
    diff = changed(base, sleeved)
    assert not np.any(diff & ~near(arm, 1))                  # the hand never changes
    bluish = sleeved.rgb[arm][:, 2].astype(int) > sleeved.rgb[arm][:, 0].astype(int) + 20
    assert bluish.mean() > 0.3


def test_coloured_lights_change_the_lit_surfaces_not_the_background(scene):
    base = render(scene)
    red = Light(np.array([0.0, 0.0, 1.0]), np.array([0.9, 0.05, 0.05]))
    lit = render(scene, lights=(*scene['appearance'].look.lights, red,
                                replace(red, direction=np.array([0.0, 0.0, -1.0]))))
    assert_exact_mask(lit)
    surface = base.part > 0
    assert not np.any(changed(base, lit) & ~near(surface, 1))
    ratio = lambda r: (r.rgb[surface][:, 0].astype(float).mean()  # noqa: E731
                       / r.rgb[surface][:, 1].astype(float).mean())
    assert ratio(lit) > ratio(base) + 0.05


def test_shadows_only_darken(scene):
    look = scene['appearance'].look
    best = 0.0
    for axis in np.concatenate([np.eye(3), -np.eye(3)]):
        light = (Light(axis, np.ones(3)),)
        base = render(scene, lights=light)
        shaded = render(scene, lights=light, shadow=0.8, shadow_softness=1.0)
        assert_exact_mask(shaded)
        delta = luminance(shaded.rgb.astype(float)) - luminance(base.rgb.astype(float))
        assert delta.max() <= 1.0                            # a shadow never brightens
        best = max(best, float((delta < -8).mean()))
    assert best > 0.01
    dropped = render(scene, drop_shadow=0.5)
    delta = luminance(dropped.rgb.astype(float)) - luminance(render(scene, lights=look.lights)
                                                            .rgb.astype(float))
    background = (dropped.part == 0) & ~near(dropped.part > 0, 1)
    assert delta.max() <= 1.0 and (delta[background] < -5).sum() > 20


def test_objects_hide_the_hand_and_flag_the_joints_behind_them(scene):
    hand_only = render(scene)
    hidden = 0
    for kind, placement in (('sphere', 'held'), ('box', 'held'), ('cylinder', 'held'),
                            ('bar', 'front'), ('box', 'front')):
        spec = ObjectSpec(kind=kind, placement=placement, size=np.array([0.4, 0.4, 0.9]),
                          offset=-scene['camera'].R[2], turn=0.3,
                          color=np.array([0.2, 0.6, 0.9]), accent=np.zeros(3), pattern='stripes',
                          shininess=20.0, specular=0.2)
        result = render(scene, objects=(spec,))
        assert_exact_mask(result)
        assert result.objects is not None
        assert np.all(result.depth[result.objects > 0] > 0)
        # the hand keeps exactly its pixels that no object covers
        assert not np.any((result.mask > 0) & ~(hand_only.mask > 0))
        lost = (hand_only.mask > 0) & ~(result.mask > 0)
        assert np.all(result.objects[lost] > 0)
        keypoints = scene['camera'].project(scene['joints'])
        depth = scene['camera'].to_camera(scene['joints'])[:, 2]
        flags = object_occlusion(keypoints, depth, result.objects, result.depth)
        cols, rows = np.rint(keypoints).astype(int).T
        inside = (cols >= 0) & (cols < SIZE) & (rows >= 0) & (rows < SIZE)
        for j in np.nonzero(inside)[0]:
            on_object = result.objects[rows[j], cols[j]] > 0
            in_front = result.depth[rows[j], cols[j]] < depth[j]
            assert flags[j] == (on_object and in_front)
        hidden += int(flags.sum())
    assert hidden > 0                          # some joint was hidden (the test can fail)


def test_camera_effects_change_pixels_not_buffers(scene):
    base = render(scene)
    look = scene['appearance'].look
    effects = replace(look.camera, white_balance=0.3, noise=(0.05, 0.05), jpeg_prob=1.0,
                      motion_blur_prob=1.0)
    shot = render(scene, camera=effects)
    for key in ('mask', 'part', 'depth'):
        np.testing.assert_array_equal(getattr(shot, key), getattr(base, key))
    assert changed(base, shot).mean() > 0.5
    high = lambda r: np.abs(cv2.Laplacian(r.rgb.astype(np.float32), cv2.CV_32F)).mean()  # noqa
    assert high(shot) > high(base)             # sensor noise


# --------------------------------------------------------------------------- backgrounds
def _skin_like(image: np.ndarray) -> np.ndarray:
    """Pixels within a small distance of some tone of the skin ladder."""
    dist = np.linalg.norm(image[:, :, None, :] - SKIN_LADDER[None, None], axis=-1).min(-1)
    return dist < 0.08


def test_clutter_backgrounds_are_busier_and_distractors_are_skin():
    busier, extra_skin = [], []
    for seed in range(4):
        legacy = make_background(np.random.default_rng(seed), 96, 96)
        clutter = make_background(np.random.default_rng(seed), 96, 96, SceneConfig())
        assert clutter.shape == legacy.shape and clutter.dtype == np.float32
        assert clutter.min() >= 0 and clutter.max() <= 1
        edges = lambda im: np.abs(cv2.Laplacian(im, cv2.CV_32F)).mean()  # noqa: E731
        busier.append(edges(clutter) > edges(legacy))
        without = clutter_background(np.random.default_rng(seed), 96, 96, distractor_prob=0.0)
        with_ = clutter_background(np.random.default_rng(seed), 96, 96, distractor_prob=1.0)
        extra_skin.append(_skin_like(with_).sum() - _skin_like(without).sum())
    assert sum(busier) >= 3
    assert min(extra_skin) >= 0 and max(extra_skin) > 50
