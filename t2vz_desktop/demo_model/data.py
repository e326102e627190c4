"""Procedural training data for the built-in demo model.

Each image is a 64x64 RGB scene of one flat-coloured shape on a plain background, with a
plain-English caption such as "a small green star in the top left on a white background".
Shapes are drawn at 4x resolution and downsampled with ``cv2.INTER_AREA``, so edges are
anti-aliased while the inside of the object and the background keep their exact RGB values.

Scenes are balanced: :func:`sample_scenes` walks through every combination of shape, object
colour, background colour (never the same as the object's), size and position in a shuffled
order before repeating any. Captions may leave out the size, the position or the background
(:func:`caption`); the left-out attribute is still drawn, at random, so the model learns
that "a red circle" means any red circle.

Two placements (:func:`placement`). "fixed": each position word is one spot (+-1.5 px), each
size word one radius (+-8%), shapes upright. A model trained so learns those spots as a prior
and pulls what the motion field moves, zooms or turns back onto them (the demo model committed
until 2026-11-27 kept no rotation at all). "continuous", which the committed model was trained
on: the centre anywhere in the third of the image the position word names, the radius anywhere
in the size word's range, polygons turned by any angle. It is the harder task: squares turned
by any angle come out rounded at this size and budget (see the model card).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import cv2
import numpy as np

# 64 px: a 128 px model with an 8x VAE (16x16 latents, the same UNet) was trained on 2026-12-04
# and its VAE, under-trained in the budget, rounded triangles and stars (benchmarks/RESULTS.md).
IMAGE_SIZE = 64
SUPERSAMPLE = 4
# Lengths below are set on a 64 px frame and scale with the image.
SCALE = IMAGE_SIZE / 64

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star")

# Fixed RGB value for each colour name. The object and the background are filled with exactly
# these values (only the anti-aliased edge pixels mix them); tests and evaluate.py classify a
# colour as the nearest of these in RGB.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "orange": (245, 140, 20),
    "yellow": (240, 220, 30),
    "green": (40, 170, 50),
    "blue": (30, 70, 220),
    "purple": (130, 50, 180),
    "pink": (245, 130, 190),
    "white": (245, 245, 245),
    "black": (20, 20, 20),
    "gray": (128, 128, 128),
}

SIZES: tuple[str, ...] = ("small", "large")
PLACEMENTS: tuple[str, ...] = ("fixed", "continuous")
# "fixed": object "radius" in pixels of the image (circle radius, star outer radius, square
# half-side / 0.85, triangle circumradius / 1.15), before a +-8% jitter.
SIZE_RADIUS: dict[str, float] = {"small": 8.0 * SCALE, "large": 15.0 * SCALE}
# "continuous": range of the same "radius", drawn uniformly. The gap between the
# two keeps the words apart; the ranges together cover a 2.7x zoom.
SIZE_RANGE: dict[str, tuple[float, float]] = {"small": (6.0 * SCALE, 10.0 * SCALE), "large": (11.5 * SCALE, 16.0 * SCALE)}
# Positions split each axis in thirds at these fractions of the image (evaluate.position_of
# reads a centroid with the same thresholds); centres keep this many pixels from a split, so
# a caption's word cannot be read back as the neighbouring one.
THIRDS = (0.4, 0.6)
SPLIT_GUARD = 1.0 * SCALE
# Rotation turns a shape onto itself after this many radians (circles are not turned).
SYMMETRY: dict[str, float] = {"square": math.pi / 2, "triangle": 2 * math.pi / 3, "star": 2 * math.pi / 5}

POSITIONS: tuple[str, ...] = (
    "centre", "top left", "top right", "bottom left", "bottom right", "left", "right", "top", "bottom",
)
# How each position reads in a caption.
POSITION_PHRASES: dict[str, str] = {
    "centre": "in the centre",
    "top left": "in the top left",
    "top right": "in the top right",
    "bottom left": "in the bottom left",
    "bottom right": "in the bottom right",
    "left": "on the left",
    "right": "on the right",
    "top": "at the top",
    "bottom": "at the bottom",
}

# Probability that a caption leaves each optional attribute out.
DROP_PROBABILITY: dict[str, float] = {"size": 0.35, "position": 0.35, "background": 0.3}


@dataclass(frozen=True)
class Scene:
    """What one training image shows."""

    shape: str
    colour: str
    background: str
    size: str
    position: str

    def full_caption(self) -> str:
        """The caption naming every attribute."""
        return caption(self, keep_size=True, keep_position=True, keep_background=True)


def all_scenes() -> list[Scene]:
    """Every combination of attributes (object and background colours always differ)."""
    return [
        Scene(shape, colour, background, size, position)
        for shape, colour, background, size, position in itertools.product(
            SHAPES, COLOURS, COLOURS, SIZES, POSITIONS
        )
        if colour != background
    ]


def sample_scenes(n: int, seed: int, shape_weights: dict[str, float] | None = None) -> list[Scene]:
    """``n`` scenes that cycle through all combinations, each cycle in a new random order.

    ``shape_weights`` (shape -> weight > 0; shapes not named weigh 1) gives each shape that share of
    the ``n`` scenes, to the nearest whole scene, each shape cycling through its own combinations;
    the scenes are then shuffled. None (the default) draws as before the option, bit for bit."""
    rng = np.random.default_rng(seed)
    combos = all_scenes()
    if shape_weights is not None:
        return _weighted_scenes(n, rng, combos, shape_weights)
    scenes: list[Scene] = []
    while len(scenes) < n:
        order = rng.permutation(len(combos))
        scenes.extend(combos[i] for i in order[: n - len(scenes)])
    return scenes


def shape_counts(n: int, shape_weights: dict[str, float]) -> dict[str, int]:
    """How many of ``n`` scenes each shape gets under ``shape_weights`` (largest remainders, so
    the counts sum to ``n``); ValueError for an unknown shape or a weight that is not > 0."""
    unknown = sorted(set(shape_weights) - set(SHAPES))
    if unknown:
        raise ValueError(f"unknown shape {unknown[0]!r} (shapes: {', '.join(SHAPES)})")
    weights = np.array([float(shape_weights.get(shape, 1.0)) for shape in SHAPES])
    if not (weights > 0).all() or not np.isfinite(weights).all():
        raise ValueError("shape weights must be numbers above 0")
    exact = n * weights / weights.sum()
    counts = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - counts), kind="stable")[: n - counts.sum()]:
        counts[i] += 1
    return dict(zip(SHAPES, (int(c) for c in counts)))


def _weighted_scenes(n: int, rng: np.random.Generator, combos: list[Scene],
                     shape_weights: dict[str, float]) -> list[Scene]:
    scenes: list[Scene] = []
    for shape, count in shape_counts(n, shape_weights).items():
        own = [scene for scene in combos if scene.shape == shape]
        drawn: list[Scene] = []
        while len(drawn) < count:
            order = rng.permutation(len(own))
            drawn.extend(own[i] for i in order[: count - len(drawn)])
        scenes.extend(drawn)
    return [scenes[i] for i in rng.permutation(len(scenes))]


def article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def caption(scene: Scene, keep_size: bool, keep_position: bool, keep_background: bool) -> str:
    """Plain-English caption of ``scene``; the colour and the shape are always named."""
    words = [scene.size] if keep_size else []
    words += [scene.colour, scene.shape]
    text = f"{article(words[0])} {' '.join(words)}"
    if keep_position:
        text += " " + POSITION_PHRASES[scene.position]
    if keep_background:
        text += f" on {article(scene.background)} {scene.background} background"
    return text


def random_caption(scene: Scene, rng: np.random.Generator) -> str:
    """Caption of ``scene`` that leaves out size, position and background at random."""
    keep = rng.random(3) >= np.array(
        [DROP_PROBABILITY["size"], DROP_PROBABILITY["position"], DROP_PROBABILITY["background"]]
    )
    return caption(scene, keep_size=bool(keep[0]), keep_position=bool(keep[1]), keep_background=bool(keep[2]))


def shape_polygon(shape: str, cx: float, cy: float, r: float, angle: float = 0.0) -> np.ndarray:
    """Vertices (n, 2) of the polygon for ``shape``, turned ``angle`` radians counter-clockwise
    on screen from upright; circles are drawn separately."""
    if shape == "square":
        corners = [(math.sqrt(2) * 0.85 * r, math.pi / 4 + k * math.pi / 2) for k in range(4)]
    elif shape == "triangle":
        corners = [(1.15 * r, math.pi / 2 + k * 2 * math.pi / 3) for k in range(3)]  # centroid at (cx, cy)
    elif shape == "star":
        corners = [(r if k % 2 == 0 else 0.45 * r, math.pi / 2 + k * math.pi / 5) for k in range(10)]
    else:
        raise ValueError(f"unknown shape {shape!r}")
    # Screen y grows downward, so a counter-clockwise angle subtracts from y.
    return np.array([[cx + d * math.cos(a + angle), cy - d * math.sin(a + angle)] for d, a in corners])


def extent(shape: str, r: float) -> float:
    """Farthest any point of ``shape`` of radius ``r`` reaches from its centre, at any angle."""
    return {"circle": r, "square": math.sqrt(2) * 0.85 * r, "triangle": 1.15 * r, "star": r}[shape]


def axis_range(word: str, low_word: str, high_word: str, margin: float) -> tuple[float, float]:
    """Interval of centre coordinates along one axis for a position word ("left", "top", ...)."""
    split_low, split_high = (IMAGE_SIZE * t for t in THIRDS)
    if low_word in word:
        return margin, split_low - SPLIT_GUARD
    if high_word in word:
        return split_high + SPLIT_GUARD, IMAGE_SIZE - margin
    return split_low + SPLIT_GUARD, split_high - SPLIT_GUARD


def object_centre(position: str, r: float) -> tuple[float, float]:
    """The "fixed" placement's centre (x, y) in pixels for ``position`` and radius ``r``."""
    margin = 1.2 * r + 3.0 * SCALE
    low, mid, high = margin, IMAGE_SIZE / 2, IMAGE_SIZE - margin
    x = low if "left" in position else high if "right" in position else mid
    y = low if "top" in position else high if "bottom" in position else mid
    return x, y


def placement(scene: Scene, rng: np.random.Generator, mode: str = "fixed",
              upright_share: float = 0.0) -> tuple[float, float, float, float]:
    """Centre x, y (pixels), radius and angle (radians) for ``scene``. "fixed": the position's
    spot and the size's radius, jittered a little, upright. "continuous": uniform within what
    the size and position words allow, keeping the whole object 1 px inside the image, and
    polygons upright with probability ``upright_share``, else turned by a uniform angle (0 draws
    no extra random number, so data made before the option is made again bit for bit)."""
    if mode == "fixed":
        r = SIZE_RADIUS[scene.size] * rng.uniform(0.92, 1.08)
        cx, cy = object_centre(scene.position, r)
        jitter = 1.5 * SCALE
        return cx + rng.uniform(-jitter, jitter), cy + rng.uniform(-jitter, jitter), r, 0.0
    if mode != "continuous":
        raise ValueError(f"unknown placement {mode!r}")
    r = float(rng.uniform(*SIZE_RANGE[scene.size]))
    margin = extent(scene.shape, r) + SCALE
    x = float(rng.uniform(*axis_range(scene.position, "left", "right", margin)))
    y = float(rng.uniform(*axis_range(scene.position, "top", "bottom", margin)))
    angle = 0.0
    if scene.shape in SYMMETRY and not (upright_share > 0 and rng.random() < upright_share):
        angle = float(rng.uniform(0.0, SYMMETRY[scene.shape]))
    return x, y, r, angle


def render(scene: Scene, rng: np.random.Generator, mode: str = "fixed", upright_share: float = 0.0) -> np.ndarray:
    """Draw ``scene`` as a (IMAGE_SIZE, IMAGE_SIZE, 3) uint8 RGB image at a random :func:`placement`."""
    return draw(scene, *placement(scene, rng, mode, upright_share))


def draw(scene: Scene, cx: float, cy: float, r: float, angle: float = 0.0) -> np.ndarray:
    """Draw ``scene`` with its object centred at (cx, cy), radius ``r``, turned ``angle``."""
    s = SUPERSAMPLE
    big = np.empty((IMAGE_SIZE * s, IMAGE_SIZE * s, 3), np.uint8)
    big[:] = COLOURS[scene.background]
    colour = tuple(int(c) for c in COLOURS[scene.colour])
    # Pixel centres are at integer coordinates + 0.5 in the small image.
    to_big = lambda v: v * s - 0.5  # noqa: E731
    if scene.shape == "circle":
        shift = 4  # sub-pixel precision for cv2.circle
        centre = (round(to_big(cx) * 2**shift), round(to_big(cy) * 2**shift))
        cv2.circle(big, centre, round(r * s * 2**shift), colour, thickness=-1, lineType=cv2.LINE_8, shift=shift)
    else:
        polygon = to_big(shape_polygon(scene.shape, cx, cy, r, angle))
        cv2.fillPoly(big, [np.round(polygon).astype(np.int32)], colour, lineType=cv2.LINE_8)
    return cv2.resize(big, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA)


def make_dataset(n: int, seed: int, mode: str = "fixed", upright_share: float = 0.0,
                 shape_weights: dict[str, float] | None = None) -> tuple[np.ndarray, list[Scene]]:
    """``n`` balanced scenes (shapes weighed by ``shape_weights``, :func:`sample_scenes`) and their
    images, (n, IMAGE_SIZE, IMAGE_SIZE, 3) uint8, at ``mode`` placements."""
    scenes = sample_scenes(n, seed, shape_weights)
    rng = np.random.default_rng(seed + 1)
    images = np.stack([render(scene, rng, mode, upright_share) for scene in scenes]) if scenes else np.zeros((0, IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    return images, scenes
