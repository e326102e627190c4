"""A light post-process against flicker: each decoded frame is blended with its two neighbours,
warped onto it by dense optical flow, only where the flow is trustworthy.

Flow is OpenCV's Farneback (the quality metrics use DIS, so the smoother is not graded by its
own flow). A neighbour pixel takes part only where the forward and backward flows agree (the
usual occlusion test) and its colour is near the frame's own (see _blend), so a moving object
leaves no ghost in the background it uncovers. Frames stream through a three-frame window:
memory does not grow with the video.

Cost: the two flows of a pair of frames serve both frames (frame k's "next" flows are frame
k+1's "previous" flows), and frames larger than FLOW_SIDE are flowed at a reduced size, the flow
scaled back up. At 512 x 512 on one core of the CI machine that takes the smoother from about
390 to 66 ms a frame (benchmarks/smoother_cost.py), beside an H200 that makes a frame in
0.3-0.5 s; frames up to FLOW_SIDE, the demo model's included, are flowed at full size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

import cv2
import numpy as np

from .flow import dense_flow, flow_grey, trusted, warp

COLOUR_TOLERANCE = 30.0  # RGB levels (mean over channels) at which a warped neighbour stops counting
_CHANNEL_MEAN = np.full((1, 3), 1 / 3, np.float32)


@dataclass
class _Frame:
    rgb: np.ndarray  # (H, W, 3) float32, converted once: each frame is blended and twice a neighbour
    grey: np.ndarray  # at flow size


@dataclass
class _Pair:
    """The two flows between consecutive frames a and b, at full size, and where they agree."""

    a_to_b: np.ndarray  # a(x) ~ b(x + a_to_b(x))  (H, W, 2) float32
    b_to_a: np.ndarray
    trusted_a: np.ndarray  # (H, W) 0/1 float: b warped onto a can be trusted here
    trusted_b: np.ndarray


def _pair(a: _Frame, b: _Frame) -> _Pair:
    size = a.rgb.shape[:2]
    a_to_b, b_to_a = dense_flow(a.grey, b.grey, size), dense_flow(b.grey, a.grey, size)
    return _Pair(a_to_b, b_to_a, trusted(a_to_b, b_to_a), trusted(b_to_a, a_to_b))


def _blend(frame: _Frame, neighbours: list[tuple[_Frame, np.ndarray, np.ndarray]], strength: float) -> np.ndarray:
    """`neighbours`: (other frame, flow from this frame to it, where that flow is trusted).
    A warped pixel also counts less the more its colour differs from the frame's own, down to
    nothing at COLOUR_TOLERANCE: flow smoothed over an object's edge passes the forward-backward
    test in a band the object just uncovered, and without this the object's colour bled into it."""
    own = frame.rgb
    total, weight = own.copy(), np.ones(own.shape[:2], np.float32)
    for other, flow, reliable in neighbours:
        warped = warp(other.rgb, flow)
        difference = cv2.transform(cv2.absdiff(warped, own), _CHANNEL_MEAN)  # (H, W)
        agree = np.clip(1.0 - difference / COLOUR_TOLERANCE, 0.0, 1.0)
        w = strength * reliable * agree
        total += w[..., None] * warped
        weight += w
    return np.clip(total / weight[..., None] + 0.5, 0, 255).astype(np.uint8)


def smooth_frames(frames: Iterable[np.ndarray], strength: float) -> Iterator[np.ndarray]:
    """Blend every uint8 RGB frame with its flow-aligned neighbours; strength 0 returns them as is."""
    if strength <= 0:
        yield from frames
        return
    previous: _Frame | None = None
    current: _Frame | None = None
    before: _Pair | None = None  # between previous and current
    for rgb in frames:
        item = _Frame(rgb.astype(np.float32), flow_grey(rgb))
        if current is not None:
            after = _pair(current, item)
            neighbours = [(item, after.a_to_b, after.trusted_a)]
            if previous is not None:
                neighbours.insert(0, (previous, before.b_to_a, before.trusted_b))
            yield _blend(current, neighbours, strength)
            before = after
        previous, current = current, item
    if current is not None:
        neighbours = [(previous, before.b_to_a, before.trusted_b)] if previous is not None else []
        yield _blend(current, neighbours, strength)
