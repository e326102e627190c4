"""Dense optical flow between decoded frames, shared by the smoother and frame interpolation.

Flow is OpenCV's Farneback, computed on grey frames no larger than FLOW_SIDE and scaled back up;
the quality metrics (measure/metrics.py) use DIS, so what these tools make is not graded by their
own flow. Flows follow OpenCV's convention: a(x) ~ b(x + flow(x)), on a's pixel grid, (H, W, 2)
float32 as (dx, dy) in pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

FLOW_SIDE = 256  # longest side at which flow is computed; larger frames are scaled down for it
# Farneback's (pyramid scale, levels, window, iterations, poly_n, poly_sigma). The smoother's
# window of 15 px is local: it blends only where flow is confirmed anyway. Interpolation must
# move whole flat-coloured objects (the demo model draws nothing else), whose insides have no
# texture: a 24 px square moved 6 px read as ~0.2 px inside with the narrow window, 5.9 px with
# the wide one (4 levels, 31 px, poly_n 7), at the same error on a textured pan (0.017 px).
NARROW = (0.5, 3, 15, 3, 5, 1.2)
WIDE = (0.5, 4, 31, 5, 7, 1.5)


def flow_grey(rgb: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    h, w = grey.shape
    scale = FLOW_SIDE / max(h, w)
    if scale >= 1:
        return grey
    return cv2.resize(grey, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def pair_grey(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two RGB frames as one channel each for flow, at flow size: their pixels projected on the
    pair's first principal colour axis and stretched to 0-255. Luma hides edges between colours
    of like brightness (red on blue: 96 against 67 grey levels), which flat generated objects
    often have; the principal axis is the direction in which the pair's colours differ most (for
    natural footage it is close to luma)."""
    small = [cv2.resize(f, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA) if max(f.shape[:2]) > 128 else f
             for f in (a, b)]
    pixels = np.concatenate([f.reshape(-1, 3) for f in small]).astype(np.float32)
    centre = pixels.mean(0)
    _, vectors = np.linalg.eigh(np.cov((pixels - centre).T) + 1e-6 * np.eye(3))
    axis = vectors[:, -1].astype(np.float32)
    out = []
    projected = [(f.astype(np.float32) - centre) @ axis for f in (a, b)]
    low, high = min(p.min() for p in projected), max(p.max() for p in projected)
    for p in projected:
        grey = np.clip((p - low) * (255.0 / max(high - low, 1e-6)), 0, 255).astype(np.uint8)
        h, w = grey.shape
        scale = FLOW_SIDE / max(h, w)
        if scale < 1:
            grey = cv2.resize(grey, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        out.append(grey)
    return out[0], out[1]


_GRIDS: dict[tuple[int, int], np.ndarray] = {}  # pixel coordinates per frame size, made once


def grid(h: int, w: int) -> np.ndarray:
    if (h, w) not in _GRIDS:
        _GRIDS[h, w] = np.mgrid[0:h, 0:w][::-1].transpose(1, 2, 0).astype(np.float32)  # (H, W, 2) as (x, y)
    return _GRIDS[h, w]


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """`image` sampled at x + flow(x), on the flow's grid."""
    m = grid(*flow.shape[:2]) + flow
    return cv2.remap(image, m[..., 0], m[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def trusted(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """Where the forward flow is confirmed by the backward flow read where it lands (0/1)."""
    back_at = warp(backward, forward)
    fx, fy = forward[..., 0], forward[..., 1]
    bx, by = back_at[..., 0], back_at[..., 1]
    disagreement = (fx + bx) ** 2 + (fy + by) ** 2  # per-channel arithmetic: sum(-1) was 3x slower
    scale = fx * fx + fy * fy + bx * bx + by * by
    return (disagreement < 0.01 * scale + 0.5).astype(np.float32)


def dense_flow(a: np.ndarray, b: np.ndarray, size: tuple[int, int], params: tuple = NARROW,
               median: bool = False) -> np.ndarray:
    """Flow from grey image a to grey image b, at full size (h, w): a(x) ~ b(x + flow(x)).
    `params`: NARROW or WIDE (Farneback's settings, above). `median`: a 5x5 median of each
    component at the flow's own size, which removes the thin bands where Farneback loses a flat
    object's motion (2 rows through the middle of a moving 80 px square read 0.2 px for 16)."""
    flow = cv2.calcOpticalFlowFarneback(a, b, None, *params, 0)
    if median:
        flow = np.dstack([cv2.medianBlur(np.ascontiguousarray(flow[..., c]), 5) for c in range(2)])
    h, w = size
    if flow.shape[:2] == (h, w):
        return flow
    gain = np.array([w / flow.shape[1], h / flow.shape[0]], np.float32)  # flow is in pixels of its own size
    return cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR) * gain
