"""Canny edge maps: the condition image of the canny ControlNet (white edges on black, RGB)."""

from __future__ import annotations

import cv2
import numpy as np


def check_thresholds(low: float, high: float) -> None:
    if not (0 <= low < high <= 255):
        raise ValueError(
            f"Canny thresholds must satisfy 0 <= low < high <= 255, got low={low} high={high}"
        )


def canny_condition(
    frame: np.ndarray, low: float = 100, high: float = 200, blur_sigma: float = 0.0
) -> np.ndarray:
    """Edges of an RGB (H, W, 3) or grey (H, W) uint8 frame as uint8 (H, W, 3), 255 on edges.

    Gradients above `high` start an edge, those above `low` continue one (hysteresis). An RGB
    frame is read in colour, each pixel's gradient taken from its strongest channel (OpenCV's
    multi-channel Canny): what the Canny ControlNets were trained on (the ControlNet paper's
    annotator, controlnet_aux and diffusers' examples call cv2.Canny on the RGB image). Through
    grey, a red square on a blue background of nearly the same luma had no edge at all. A Gaussian
    blur of `blur_sigma` pixels first removes texture and compression noise (0: none).
    """
    check_thresholds(low, high)
    if blur_sigma < 0:
        raise ValueError(f"blur sigma must be 0 or more, got {blur_sigma}")
    if frame.dtype != np.uint8 or frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] != 3):
        raise ValueError(f"expected a uint8 RGB (H, W, 3) or grey (H, W) frame, got {frame.dtype} {frame.shape}")
    if blur_sigma > 0:
        frame = cv2.GaussianBlur(frame, (0, 0), blur_sigma)  # kernel size follows from sigma
    edges = cv2.Canny(np.ascontiguousarray(frame), low, high)  # (H, W), 0 or 255
    return np.repeat(edges[:, :, None], 3, axis=2)
