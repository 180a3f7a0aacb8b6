"""What generated hands look like: skin, sleeves, lights and camera, per :class:`SceneConfig`.

Why: a model trained on smooth one-tone mannequin hands under one white light learns the
mannequin. Real hand photos differ in skin tone (the whole human range, not a band of it), skin
detail (flexion creases, palm lines, knuckle wrinkles and darker knuckles, nails), light (several
coloured sources, an ambient that is brighter from above, soft shadows, highlights), context (an
arm, usually in a sleeve) and camera (white balance, exposure, blur, noise, compression). Each
of these is an option here so that ``tools/sim2real.py`` can measure what it is worth on real
images.

Labels never depend on these options: :func:`sample_look` draws from a child generator
(``rng.spawn``), which leaves the unit generator's own stream, and so every pose and camera
drawn after it, untouched; per-view camera effects draw from the frame generator, which only
ever feeds pixels.

Skin detail is evaluated per pixel, not per vertex (a vertex is 2.5 mm of skin, a crease is
under 1 mm): the template's vertices carry *coordinates* (:func:`detail_attributes`: signed
distance to the nearest flexion crease along the finger, distance to each palm line, distance
down the forearm), which interpolate linearly over each triangle, and the renderer turns them
into thin lines per pixel.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache

import numpy as np

#: Skin tone ladder, sRGB in [0, 1], from very dark to very light: the range of human skin
#: reflectance (Fitzpatrick I-VI; the Monk scale's ten tones span it similarly).
SKIN_LADDER = np.array([
    [0.16, 0.11, 0.08], [0.25, 0.16, 0.11], [0.36, 0.23, 0.16], [0.48, 0.32, 0.22],
    [0.60, 0.42, 0.30], [0.72, 0.53, 0.40], [0.82, 0.64, 0.52], [0.90, 0.74, 0.63],
    [0.95, 0.82, 0.73], [0.98, 0.88, 0.81]])
#: Undertones added to a tone (scaled by its brightness): warm/olive, neutral, pink/red.
UNDERTONES = np.array([[0.02, 0.03, -0.05], [0.0, 0.0, 0.0], [0.04, -0.02, 0.0]])
#: Garment colours (sRGB): greys, denim, navy, black, white, khaki, reds, greens, brights.
GARMENT_COLOURS = np.array([
    [0.08, 0.08, 0.09], [0.93, 0.93, 0.92], [0.45, 0.46, 0.48], [0.20, 0.22, 0.26],
    [0.16, 0.22, 0.38], [0.30, 0.40, 0.58], [0.55, 0.50, 0.38], [0.60, 0.12, 0.12],
    [0.15, 0.35, 0.20], [0.85, 0.70, 0.20], [0.30, 0.15, 0.40], [0.90, 0.45, 0.15],
    [0.65, 0.75, 0.85], [0.40, 0.25, 0.15]])

#: Part of the rest hand (mm, hand frame of :mod:`hand_model`) each palm line passes through:
#: distal transverse ("heart"), proximal transverse ("head") and thenar ("life") creases.
PALM_LINES = (
    np.array([[-44.0, 63.0], [-26.0, 67.0], [-9.0, 71.0], [7.0, 77.0], [16.0, 84.0]]),
    np.array([[36.0, 62.0], [20.0, 58.0], [5.0, 55.0], [-12.0, 50.0], [-30.0, 43.0]]),
    np.array([[36.0, 60.0], [25.0, 48.0], [18.0, 36.0], [14.0, 22.0], [12.0, 6.0]]),
)
#: Crease positions along each phalanx, as fractions of its length from its proximal joint:
#: the joint itself (PIP and DIP creases lie over the joints) and, on the proximal phalanx,
#: the palmar digital crease at the finger's base.
_DIGITAL_CREASE = 0.32
FAR = 99.0


@dataclass(frozen=True)
class SceneConfig:
    """Options of the rendered look (recorded in ``generation.json``; labels never change).

    Attributes:
        preset: ``'legacy'`` renders exactly as poseforge did before these options (one-tone
            skin, one light, colour-block backgrounds, no sleeve, no objects): every other field
            is then ignored. ``'realistic'`` uses the fields below.
        skin_tones: ``'full'`` (the whole :data:`SKIN_LADDER` with undertones) or ``'legacy'``.
        skin_detail: creases, palm lines, knuckle shading, mottling, subsurface-like softness.
        lights: range of directional lights (the first is the key light, which casts shadows).
        coloured_lights: how far light colours stray from white (0: all white).
        shadows: soft self-shadows from the key light, and a drop shadow on the background.
        sleeve_prob: share of arms in a sleeve (else bare skin up the arm).
        background: ``'clutter'`` (textures, shapes, text, blur) or ``'legacy'``.
        distractor_prob: share of backgrounds with skin-coloured distractors (blobs, fingers,
            hand- and face-like shapes).
        object_prob: share of units with an object held in the hand or in front of it.
        motion_blur_prob, defocus_prob, downscale_prob, jpeg_prob: per-view camera effects.
        noise: range of the sensor noise level (std at mid grey, fraction of full scale).
        white_balance: largest per-channel gain error of the camera's white balance.
        exposure: range of the exposure gain.
    """

    preset: str = 'realistic'
    skin_tones: str = 'full'
    skin_detail: bool = True
    lights: tuple[int, int] = (1, 3)
    coloured_lights: float = 0.25
    shadows: bool = True
    sleeve_prob: float = 0.7
    background: str = 'clutter'
    distractor_prob: float = 0.6
    object_prob: float = 0.35
    motion_blur_prob: float = 0.15
    defocus_prob: float = 0.25
    downscale_prob: float = 0.2
    jpeg_prob: float = 0.5
    noise: tuple[float, float] = (0.0, 0.03)
    white_balance: float = 0.12
    exposure: tuple[float, float] = (0.75, 1.25)

    @property
    def legacy(self) -> bool:
        return self.preset == 'legacy'

    def to_dict(self) -> dict:
        return asdict(self)

    def check(self) -> None:
        if self.preset not in ('legacy', 'realistic'):
            raise ValueError(f"scene preset must be 'legacy' or 'realistic', got "
                             f"'{self.preset}'")
        if self.skin_tones not in ('full', 'legacy'):
            raise ValueError(f"skin_tones must be 'full' or 'legacy', got '{self.skin_tones}'")
        if self.background not in ('clutter', 'legacy'):
            raise ValueError(f"background must be 'clutter' or 'legacy', got "
                             f"'{self.background}'")
        if not 1 <= self.lights[0] <= self.lights[1]:
            raise ValueError(f'lights must be a range (low, high) with 1 <= low <= high, got '
                             f'{self.lights}')


#: The look of poseforge's generator before :class:`SceneConfig` existed.
LEGACY_SCENE = SceneConfig(preset='legacy')

#: Each option turned off, one at a time (``tools/sim2real.py`` measures these).
ABLATIONS: dict[str, dict] = {
    'no-skin-tones': dict(skin_tones='legacy'),
    'no-skin-detail': dict(skin_detail=False),
    'one-white-light': dict(lights=(1, 1), coloured_lights=0.0),
    'no-shadows': dict(shadows=False),
    'no-sleeves': dict(sleeve_prob=0.0),
    'legacy-backgrounds': dict(background='legacy', distractor_prob=0.0),
    'no-distractors': dict(distractor_prob=0.0),
    'no-objects': dict(object_prob=0.0),
    'no-camera-effects': dict(motion_blur_prob=0.0, defocus_prob=0.0, downscale_prob=0.0,
                              jpeg_prob=0.0, noise=(0.0, 0.0), white_balance=0.0,
                              exposure=(1.0, 1.0)),
}


def scene_from_dict(values: dict | None) -> SceneConfig:
    """A :class:`SceneConfig` from a (possibly partial) dict; tuples come back from json lists."""
    if not values:
        return SceneConfig()
    known = SceneConfig.__dataclass_fields__
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"unknown scene option(s) {', '.join(unknown)}; known: "
                         f"{', '.join(known)}")
    fixed = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    scene = replace(SceneConfig(), **fixed)
    scene.check()
    return scene


# --------------------------------------------------------------------------- per-unit look
@dataclass(frozen=True)
class Light:
    """A directional light: ``direction`` (world, unit, from the surface to the light) and
    ``color`` (RGB intensity)."""

    direction: np.ndarray
    color: np.ndarray


@dataclass(frozen=True)
class SkinDetail:
    """Per-hand strengths of the procedural skin detail (0 = none)."""

    crease: float           # flexion creases (palmar) and knuckle wrinkles (dorsal)
    palm_lines: np.ndarray  # (3,) strength of each palm line
    knuckles: float         # darker, redder skin over the dorsal knuckles
    mottle: float           # low-frequency albedo variation
    seed: int               # of the mottling pattern


@dataclass(frozen=True)
class Sleeve:
    """A sleeve from ``start`` mm up the forearm (from the wrist) to the elbow."""

    start: float
    color: np.ndarray
    pattern: str            # 'plain', 'stripes', 'rings', 'knit'
    period: float           # mm, of stripes / rings
    accent: np.ndarray      # second colour of a pattern
    cuff: float             # darkening of the cuff band (0..1)


@dataclass(frozen=True)
class ObjectSpec:
    """An object in the scene: held in the palm or passing in front of the hand.

    ``kind`` is ``cylinder``, ``box``, ``sphere`` or ``bar``; sizes are in hand lengths;
    ``placement`` is ``held`` (in the palm) or ``front`` (beside the hand on a random side,
    so it hides the hand from some views and not from others).
    """

    kind: str
    placement: str
    size: np.ndarray        # (3,) extents, fractions of the hand length
    offset: np.ndarray      # (3,) unit direction (front) or jitter (held)
    turn: float             # rotation about the placement axis (rad)
    color: np.ndarray
    accent: np.ndarray
    pattern: str            # 'plain', 'stripes', 'label'
    shininess: float
    specular: float


@dataclass(frozen=True)
class CameraEffects:
    """Ranges the per-view camera effects are drawn from (see :class:`SceneConfig`)."""

    motion_blur_prob: float
    defocus_prob: float
    downscale_prob: float
    jpeg_prob: float
    noise: tuple[float, float]
    white_balance: float
    exposure: tuple[float, float]


@dataclass(frozen=True)
class Look:
    """Everything :class:`SceneConfig` adds to one unit's appearance (shared by its views)."""

    lights: tuple[Light, ...]
    sky: np.ndarray          # ambient colour from above (world +y)
    ground: np.ndarray       # ambient colour from below
    headlight: float         # a weak light at the camera (phone / webcam fill)
    wrap: np.ndarray         # (3,) per-channel diffuse wrap: red light bleeds further
    shadow: float            # key-light shadow darkness, 0 = no shadows
    shadow_softness: float   # PCF radius, shadow-map pixels
    drop_shadow: float       # darkness of the hand's shadow on the background (0 = none)
    specular: float
    shininess: float
    detail: SkinDetail | None
    sleeve: Sleeve | None
    objects: tuple[ObjectSpec, ...]
    camera: CameraEffects
    skin_tone: np.ndarray


def sample_skin_tone(rng: np.random.Generator) -> np.ndarray:
    """A skin colour from the full :data:`SKIN_LADDER` (uniform over it) with an undertone."""
    pos = rng.uniform(0, len(SKIN_LADDER) - 1)
    low = int(min(pos, len(SKIN_LADDER) - 2))
    tone = SKIN_LADDER[low] + (pos - low) * (SKIN_LADDER[low + 1] - SKIN_LADDER[low])
    under = UNDERTONES[int(rng.integers(len(UNDERTONES)))] * rng.uniform(0.3, 1.0)
    tone = tone + under * (0.4 + tone.mean())
    return np.clip(tone * rng.normal(1.0, 0.03, 3), 0.03, 1.0)


def palm_tone(skin: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The palm: lighter and pinker than the back of the hand, far more so on dark skin
    (palms carry little melanin whatever the skin tone)."""
    darkness = 1.0 - float(skin.mean())
    lift = rng.uniform(0.15, 0.3) + 0.35 * darkness
    pink = np.array([1.0, 0.82, 0.78])
    return np.clip(skin + (1.0 - skin) * lift * pink, 0, 1)


def _light_colour(rng: np.random.Generator, amount: float) -> np.ndarray:
    """Near white: a colour temperature (warm to cool) plus a small tint, scaled by amount."""
    temperature = rng.uniform(-1.0, 1.0)
    warm_cool = np.array([0.12, 0.0, -0.15]) * temperature
    tint = rng.normal(0.0, 0.05, 3)
    return np.clip(1.0 + amount * 2.0 * (warm_cool + tint), 0.4, 1.6)


def _random_direction(rng: np.random.Generator, up_bias: float = 0.0) -> np.ndarray:
    direction = rng.normal(size=3)
    direction[1] += up_bias
    return direction / np.linalg.norm(direction)


def sample_lights(rng: np.random.Generator, scene: SceneConfig) -> tuple[Light, ...]:
    """Key light (brightest, usually from above) plus up to ``lights[1] - 1`` coloured ones."""
    count = int(rng.integers(scene.lights[0], scene.lights[1] + 1))
    key = Light(_random_direction(rng, up_bias=0.8),
                _light_colour(rng, scene.coloured_lights) * rng.uniform(0.65, 0.95))
    others = [Light(_random_direction(rng),
                    _light_colour(rng, 2.0 * scene.coloured_lights) * rng.uniform(0.15, 0.45))
              for _ in range(count - 1)]
    return (key, *others)


def sample_sleeve(rng: np.random.Generator, scene: SceneConfig) -> Sleeve | None:
    """A sleeve (or ``None``: a bare arm) with probability ``scene.sleeve_prob``."""
    wear = rng.uniform() < scene.sleeve_prob
    colour = GARMENT_COLOURS[int(rng.integers(len(GARMENT_COLOURS)))]
    colour = np.clip(colour * rng.normal(1.0, 0.12, 3), 0.02, 1.0)
    accent = GARMENT_COLOURS[int(rng.integers(len(GARMENT_COLOURS)))]
    # Sleeves end anywhere from the wrist (long, loose) to mid-forearm (pushed up, 3/4).
    start = float(rng.choice([rng.uniform(8.0, 40.0), rng.uniform(40.0, 140.0)]))
    sleeve = Sleeve(start=start, color=colour,
                    pattern=str(rng.choice(['plain', 'plain', 'stripes', 'rings', 'knit'])),
                    period=float(rng.uniform(4.0, 18.0)), accent=accent,
                    cuff=float(rng.uniform(0.0, 0.35)))
    return sleeve if wear else None


def sample_objects(rng: np.random.Generator, scene: SceneConfig) -> tuple[ObjectSpec, ...]:
    """An object (or none) with probability ``scene.object_prob``."""
    present = rng.uniform() < scene.object_prob
    placement = 'held' if rng.uniform() < 0.6 else 'front'
    kinds = ['cylinder', 'box', 'sphere'] if placement == 'held' else ['bar', 'box', 'cylinder',
                                                                        'sphere']
    kind = str(rng.choice(kinds))
    if kind == 'cylinder':      # bottle, cup, handle: radius x2, length
        size = np.array([rng.uniform(0.12, 0.3), 0.0, rng.uniform(0.5, 1.1)])
        size[1] = size[0]
    elif kind == 'bar':         # pen, stick, cable
        size = np.array([rng.uniform(0.04, 0.08), 0.0, rng.uniform(0.8, 1.6)])
        size[1] = size[0]
    elif kind == 'sphere':      # ball, fruit
        size = np.full(3, rng.uniform(0.2, 0.45))
    else:                       # phone, book, box
        size = np.array([rng.uniform(0.25, 0.45), rng.uniform(0.04, 0.12), rng.uniform(0.35, 0.7)])
    colour = np.clip(rng.uniform(0.05, 0.95, 3) * rng.uniform(0.5, 1.0) +
                     rng.uniform(0.0, 0.3), 0, 1)
    spec = ObjectSpec(kind=kind, placement=placement, size=size,
                      offset=_random_direction(rng), turn=float(rng.uniform(0, np.pi)),
                      color=colour, accent=rng.uniform(0.0, 1.0, 3),
                      pattern=str(rng.choice(['plain', 'stripes', 'label'])),
                      shininess=float(rng.uniform(8.0, 80.0)),
                      specular=float(rng.uniform(0.05, 0.5)))
    return (spec,) if present else ()


def sample_look(rng: np.random.Generator, scene: SceneConfig, skin: np.ndarray) -> Look:
    """One unit's :class:`Look` from ``scene``.

    Each part (lights, ambient, shadows, skin detail, sleeve, objects) draws from its own child
    of ``rng`` and draws the same values whether its option is on or off, so turning one option
    off changes that part only: an ablation compares like with like.
    """
    lights_rng, ambient_rng, shadow_rng, detail_rng, sleeve_rng, object_rng = rng.spawn(6)
    lights = sample_lights(lights_rng, scene)
    sky = _light_colour(ambient_rng, scene.coloured_lights) * ambient_rng.uniform(0.2, 0.4)
    ground = (sky * ambient_rng.uniform(0.4, 0.9)
              * _light_colour(ambient_rng, scene.coloured_lights))
    headlight = float(ambient_rng.uniform(0.0, 0.3))
    wrap_scale = ambient_rng.uniform(0.6, 1.2)
    specular = float(ambient_rng.uniform(0.04, 0.2))
    shininess = float(ambient_rng.uniform(8.0, 30.0))
    shadow, softness = float(shadow_rng.uniform(0.55, 0.9)), float(shadow_rng.uniform(0.8, 2.0))
    drop = float(shadow_rng.uniform(0.2, 0.5)) if shadow_rng.uniform() < 0.5 else 0.0
    detail = SkinDetail(crease=float(detail_rng.uniform(0.25, 0.6)),
                        palm_lines=detail_rng.uniform(0.15, 0.55, 3),
                        knuckles=float(detail_rng.uniform(0.05, 0.25)),
                        mottle=float(detail_rng.uniform(0.02, 0.08)),
                        seed=int(detail_rng.integers(2**31)))
    camera = CameraEffects(scene.motion_blur_prob, scene.defocus_prob, scene.downscale_prob,
                           scene.jpeg_prob, tuple(scene.noise), scene.white_balance,
                           tuple(scene.exposure))
    return Look(
        lights=lights, sky=sky, ground=ground, headlight=headlight,
        wrap=(np.array([0.45, 0.25, 0.18]) if scene.skin_detail else np.full(3, 0.2))
        * wrap_scale,
        shadow=shadow if scene.shadows else 0.0, shadow_softness=softness,
        drop_shadow=drop if scene.shadows else 0.0, specular=specular, shininess=shininess,
        detail=detail if scene.skin_detail else None,
        sleeve=sample_sleeve(sleeve_rng, scene), objects=sample_objects(object_rng, scene),
        camera=camera, skin_tone=skin)


# --------------------------------------------------------------------------- detail coordinates
def _polyline_distance(points: np.ndarray, line: np.ndarray) -> np.ndarray:
    """Distance (M,) from 2D points to a polyline."""
    best = np.full(len(points), np.inf)
    for a, b in zip(line[:-1], line[1:]):
        ab = b - a
        t = np.clip((points - a) @ ab / (ab @ ab), 0.0, 1.0)
        best = np.minimum(best, np.linalg.norm(points - (a + t[:, None] * ab), axis=1))
    return best


@lru_cache(maxsize=1)
def detail_attributes() -> np.ndarray:
    """Per-vertex detail coordinates (N, 6) float32 of the template (cached per process).

    Columns: 0 distance down the forearm from the wrist (mm; -:data:`FAR` off the forearm);
    1 signed distance along the finger to its nearest flexion crease (mm; :data:`FAR` off the
    fingers); 2-4 distance to each of :data:`PALM_LINES` on the palmar palm (:data:`FAR`
    elsewhere); 5 dorsal knuckle weight in [0, 1].
    """
    from poseforge.generation.hand_model import PART_FOREARM
    from poseforge.generation.template import DEPTH, METACARPALS, PARENT, hand_template
    template = hand_template()
    verts, bone = template.vertices, template.vertex_bone
    out = np.full((len(verts), 6), FAR, dtype=np.float64)
    out[:, 5] = 0.0
    forearm_vertex = np.zeros(len(verts), bool)
    forearm_faces = template.faces[template.face_part == PART_FOREARM]
    forearm_vertex[np.unique(forearm_faces)] = True
    out[:, 0] = np.where(forearm_vertex & (bone == 0), -verts[:, 1], -FAR)

    origins = template.joints[np.maximum(PARENT, 0)]
    axes = template.frames[:, :, 1]
    along = np.einsum('ij,ij->i', verts - origins[bone], axes[bone])
    length = template.lengths[bone]
    phalanx = DEPTH[bone] >= 2
    proximal = np.isin(bone, METACARPALS[1:] + 1)      # the four fingers' proximal phalanges
    thumb_metacarpal = bone == 2                       # its proximal end (CMC) has no crease
    candidates = np.stack([np.where(thumb_metacarpal, FAR, along), along - length,
                           np.where(proximal, along - _DIGITAL_CREASE * length, FAR)], 1)
    nearest = np.take_along_axis(candidates, np.abs(candidates).argmin(1)[:, None], 1)[:, 0]
    out[:, 1] = np.where(phalanx, nearest, FAR)

    palmar = template.palmar
    on_palm = np.isin(bone, METACARPALS) & (palmar > 0.25)
    for k, line in enumerate(PALM_LINES):
        out[on_palm, 2 + k] = _polyline_distance(verts[on_palm, :2], line)

    dorsal = np.clip((-palmar - 0.2) / 0.5, 0.0, 1.0)
    knuckle_joints = np.array([2, 3, 5, 6, 7, 9, 10, 11, 13, 14, 15, 17, 18, 19])  # thumb MCP
    # and IP, then each finger's MCP, PIP and DIP (hand21 order)
    dist = np.linalg.norm(verts[:, None] - template.joints[knuckle_joints][None], axis=2)
    radius = np.maximum(template.joint_radii[knuckle_joints], 6.0)
    out[:, 5] = dorsal * np.exp(-(dist / (1.3 * radius)) ** 2).max(1)
    return out.astype(np.float32)


@lru_cache(maxsize=1)
def _mottle_basis() -> tuple[np.ndarray, np.ndarray]:
    """Trilinear lookup of every template vertex in a 6 x 6 x 6 grid over the hand's box
    (cells about 3 cm across the hand, longer along the arm): corner indices and weights."""
    from poseforge.generation.template import hand_template
    vertices = hand_template().vertices
    low = vertices.min(0)
    span = vertices.max(0) - low
    pos = (vertices - low) / np.maximum(span, 1e-6) * 4.999 * np.array([1.0, 0.3, 1.0])
    i0 = np.floor(pos).astype(int)
    f = pos - i0
    index, weight = [], []
    for corner in np.ndindex(2, 2, 2):
        c = np.array(corner)
        weight.append(np.prod(np.where(c, f, 1 - f), axis=1))
        idx = np.minimum(i0 + c, 5)
        index.append((idx[:, 0] * 6 + idx[:, 1]) * 6 + idx[:, 2])
    return np.stack(index), np.stack(weight)


def mottle_field(seed: int, num_vertices: int) -> np.ndarray:
    """Low-frequency per-vertex albedo variation (N,), about unit spread (smoothed noise)."""
    index, weight = _mottle_basis()
    if num_vertices != index.shape[1]:
        return np.zeros(num_vertices, np.float32)
    cells = np.random.default_rng(seed).normal(size=216)
    return ((cells[index] * weight).sum(0) / 0.6).astype(np.float32)


__all__ = ['ABLATIONS', 'CameraEffects', 'LEGACY_SCENE', 'Light', 'Look', 'ObjectSpec',
           'SKIN_LADDER', 'SceneConfig', 'Sleeve', 'SkinDetail', 'detail_attributes',
           'mottle_field', 'palm_tone', 'sample_look', 'sample_skin_tone', 'scene_from_dict']
