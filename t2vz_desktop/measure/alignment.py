"""Motion alignment of an edit with its source: does the edited video move as the source does?

For each pair of consecutive frames (k, k+1) the optical flow of the edit and the flow of the
source over the same instants are computed on the edit's grid, and their end-point error (EPE)
is averaged over the pixels:

    EPE_k = mean_p || flow_edit_k(p) - flow_source_k(p) ||      (pixels per frame)

The reported figure is the mean of EPE_k over the pairs. This is V2VBench's motion-alignment
score with the sign flipped (the survey "Diffusion Model-Based Video Editing", 2024, reports
-EPE), but computed with OpenCV DIS (`metrics.dis_flow`, medium preset, grayscale, the edit's
resolution), not GMFlow as there: the numbers are comparable with each other, not with the
published ones. The source frames are the ones the edit was made from (the range in the edit's
recipe), fitted to the edit's size as the engine fitted them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import cv2
import numpy as np

from .metrics import FLOW_NAME, dis_flow


@dataclass
class Alignment:
    """Motion alignment of one edit with its source."""

    pairs: int
    motion_alignment_epe: float | None  # mean EPE, pixels per frame; None with fewer than 2 frames
    source_motion: float | None  # mean flow magnitude of the source, pixels per frame (for scale)
    flow: str = FLOW_NAME
    curve: list[float] = field(default_factory=list)  # EPE per pair


def flow_epe(a: np.ndarray, b: np.ndarray) -> float:
    """Mean end-point error between two flows (h, w, 2), in pixels."""
    return float(np.sqrt(((a - b) ** 2).sum(-1)).mean())


def _gray(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)


def motion_alignment(edit_frames: Iterable[np.ndarray], source_frames: Iterable[np.ndarray]) -> Alignment:
    """Mean EPE between the flows of `edit_frames` and `source_frames`, frame k against frame k.

    Both are uint8 RGB (h, w, 3) streams of the same size; the shorter one ends the measure.
    Streaming: two frames of each are held. ValueError when the sizes differ.
    """
    curve, magnitudes = [], []
    previous = None
    for edit, source in zip(edit_frames, source_frames):
        if edit.shape != source.shape:
            raise ValueError(f"edit frames are {edit.shape[1]}x{edit.shape[0]}, source frames "
                             f"{source.shape[1]}x{source.shape[0]}: fit the source to the edit first")
        current = (_gray(edit), _gray(source))
        if previous is not None:
            f_edit = dis_flow(previous[0], current[0])
            f_source = dis_flow(previous[1], current[1])
            curve.append(flow_epe(f_edit, f_source))
            magnitudes.append(float(np.sqrt((f_source**2).sum(-1)).mean()))
        previous = current
    return Alignment(
        pairs=len(curve),
        motion_alignment_epe=float(np.mean(curve)) if curve else None,
        source_motion=float(np.mean(magnitudes)) if magnitudes else None,
        curve=curve,
    )
