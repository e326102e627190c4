"""A light post-process against flicker: each decoded frame is blended with its two neighbours,
warped onto it by dense optical flow, only where the flow is trustworthy.

Flow is OpenCV's Farneback (the quality metrics use DIS, so the smoother is not graded by its
own flow). A neighbour pixel takes part only if the forward and backward flows agree, the usual
occlusion test, so a moving object does not leave a ghost where it uncovered the background.
Frames stream through a three-frame window: memory does not grow with the video.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import cv2
import numpy as np


def _flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Flow from grey image a to grey image b: a(x) ~ b(x + flow(x)).  # (H, W, 2) float32"""
    return cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)


def _warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    h, w = flow.shape[:2]
    grid = np.mgrid[0:h, 0:w][::-1].transpose(1, 2, 0).astype(np.float32)  # (H, W, 2) as (x, y)
    m = grid + flow
    return cv2.remap(image, m[..., 0], m[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _aligned(frame_grey: np.ndarray, other: np.ndarray, other_grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`other` warped onto the frame, and where that warp can be trusted (0/1 float mask)."""
    forward = _flow(frame_grey, other_grey)
    backward = _flow(other_grey, frame_grey)
    back_at = _warp(backward, forward)  # backward flow read where the forward flow lands
    disagreement = ((forward + back_at) ** 2).sum(-1)
    scale = (forward**2).sum(-1) + (back_at**2).sum(-1)
    trusted = (disagreement < 0.01 * scale + 0.5).astype(np.float32)
    return _warp(other.astype(np.float32), forward), trusted


def _blend(current: tuple[np.ndarray, np.ndarray], neighbours: list, strength: float) -> np.ndarray:
    frame, grey = current
    total = frame.astype(np.float32)
    weight = np.ones(frame.shape[:2], np.float32)
    for other, other_grey in neighbours:
        warped, trusted = _aligned(grey, other, other_grey)
        total += strength * trusted[..., None] * warped
        weight += strength * trusted
    return np.clip(total / weight[..., None] + 0.5, 0, 255).astype(np.uint8)


def smooth_frames(frames: Iterable[np.ndarray], strength: float) -> Iterator[np.ndarray]:
    """Blend every uint8 RGB frame with its flow-aligned neighbours; strength 0 returns them as is."""
    if strength <= 0:
        yield from frames
        return
    previous = current = None  # (frame, grey)
    for frame in frames:
        item = (frame, cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY))
        if current is not None:
            yield _blend(current, [n for n in (previous, item) if n is not None], strength)
        previous, current = current, item
    if current is not None:
        yield _blend(current, [previous] if previous is not None else [], strength)
