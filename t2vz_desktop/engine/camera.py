"""Camera keyframes and the paper's default motion: plain numbers, no torch, so that requests
and the app can use them without loading the engine."""

from __future__ import annotations

import math
from dataclasses import dataclass

# Paper default: 12 px per frame of a 512 px frame in x and in y.
PAPER_MOTION_PX = 12.0
PAPER_FRAME_PX = 512.0


def default_motion(width: int, height: int) -> tuple[float, float]:
    """The paper's 12 px/frame at 512 px, scaled to the output size (1.5 px at 64 px)."""
    return PAPER_MOTION_PX * width / PAPER_FRAME_PX, PAPER_MOTION_PX * height / PAPER_FRAME_PX


# Camera paths: the paper's constant translation generalised to keyframed pan, zoom and rotation.


@dataclass(frozen=True)
class CameraKey:
    """The camera at one frame of the clip; between keys it moves as `ease` says."""

    frame: int
    pan: tuple[float, float] = (0.0, 0.0)  # output pixels; +x moves the content right, +y down
    zoom: float = 1.0  # > 1 zooms in: the content grows
    rotate: float = 0.0  # degrees, counter-clockwise as seen on screen
    ease: str = "linear"  # towards the next key: linear | ease (smooth start and stop)


def _eased(u: float, ease: str) -> float:
    return u * u * (3 - 2 * u) if ease == "ease" else u


def camera_at(keys: list[CameraKey], frame: int) -> tuple[float, float, float, float]:
    """(pan x, pan y, zoom, rotate) at `frame`, holding the first and last keys beyond them."""
    keys = sorted(keys, key=lambda k: k.frame)
    if frame <= keys[0].frame:
        k = keys[0]
        return (*k.pan, k.zoom, k.rotate)
    for a, b in zip(keys, keys[1:]):
        if frame <= b.frame:
            u = _eased((frame - a.frame) / (b.frame - a.frame), a.ease)
            lerp = lambda p, q: p + (q - p) * u  # noqa: E731
            # zoom is interpolated in log space, so that 1 -> 2 -> 4 feels even
            zoom = math.exp(lerp(math.log(a.zoom), math.log(b.zoom)))
            return lerp(a.pan[0], b.pan[0]), lerp(a.pan[1], b.pan[1]), zoom, lerp(a.rotate, b.rotate)
    k = keys[-1]
    return (*k.pan, k.zoom, k.rotate)
