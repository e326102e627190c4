"""Temporal quality of any video, frame pair by frame pair, in one streaming pass.

Every measure here looks at consecutive frames (k, k+1), so a `VideoMeter` keeps only the
previous frame and running sums: a long video costs the memory of two frames.

Definitions (k = 0 .. n-2, frames RGB uint8, H x W):

- temporal flickering (VBench): (255 - mean |frame_{k+1} - frame_k|) / 255, averaged over pairs.
  1.0 for a still video. It penalises intended motion as much as flicker, so VBench applies it
  to static videos only: never rank moving videos by it alone (read it with dynamic degree).
- dynamic degree: mean optical-flow magnitude in pixels, per pair, averaged over pairs. A still
  video scores 0, so it cannot win on consistency alone.
- warping error: optical flow f from frame k+1 to frame k (OpenCV DIS, medium preset, on
  grayscale at the video's own resolution: frame_{k+1}(p) ~ frame_k(p + f(p))); frame k warped
  onto k+1 by bilinear sampling at p + f(p); the squared RGB error (values in [0, 1]) averaged
  over the channels of pixels p that pass a forward-backward check against the flow b from
  frame k to frame k+1, sampled at p + f(p):
      |f + b|^2 < 0.01 (|f|^2 + |b|^2) + 0.5    and p + f(p) inside the frame;
  averaged over pairs (each pair weighted equally). Figures published with other flow models
  (RAFT, PWC-Net, FlowNet2) or at other resolutions are NOT comparable with these.
- zero-flow error: the same squared error with no warp and no mask (frame k against k+1), the
  baseline that the warping error should be far under when the flow explains the change.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Iterable

import cv2
import numpy as np

CONSISTENCY_ALPHA = 0.01  # |f + b|^2 < alpha (|f|^2 + |b|^2) + beta
CONSISTENCY_BETA = 0.5
FLOW_NAME = "OpenCV DIS (medium preset), grayscale, native resolution"


@dataclass
class VideoScores:
    """Everything `t2vz eval` reports for one video; None where a measure could not be taken."""

    frames: int
    width: int
    height: int
    temporal_flickering: float | None  # VBench, in [0, 1]; 1 = no change at all
    dynamic_degree: float | None  # mean flow magnitude, pixels per frame
    warping_error: float | None  # mean squared RGB error in [0, 1] after flow warping
    zero_flow_error: float | None  # the same without warping (baseline)
    consistent_fraction: float | None  # share of pixels that passed the forward-backward check
    clip_frame_consistency: float | None = None  # mean cosine of consecutive frames' CLIP embeddings
    clip_text_score: float | None = None  # 100 x mean cosine of frame and prompt embeddings
    prompt: str | None = None
    clip_model: str | None = None
    flow: str = FLOW_NAME
    curves: dict[str, list[float]] = field(default_factory=dict)  # per pair (or per frame for clip_text)

    def summary(self) -> dict:
        """The scalar figures, without the per-frame curves."""
        return {k: v for k, v in asdict(self).items() if k != "curves"}


def dis_flow(source_gray: np.ndarray, target_gray: np.ndarray) -> np.ndarray:
    """Flow on `source`'s grid: source(p) ~ target(p + flow(p)).  # (h, w, 2) float32, (dx, dy)"""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return dis.calc(source_gray, target_gray, None)


def _sample(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    return cv2.remap(image, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


@dataclass
class PairScores:
    mean_abs_diff: float  # 0..255
    flow_magnitude: float  # pixels
    warping_error: float  # NaN when no pixel passed the check
    zero_flow_error: float
    consistent_fraction: float


def score_pair(previous: np.ndarray, current: np.ndarray) -> PairScores:
    """Scores of one pair of uint8 RGB frames (h, w, 3): `previous` = frame k, `current` = k+1."""
    h, w = current.shape[:2]
    a = previous.astype(np.float32) / 255.0
    b = current.astype(np.float32) / 255.0
    gray_prev = cv2.cvtColor(previous, cv2.COLOR_RGB2GRAY)
    gray_cur = cv2.cvtColor(current, cv2.COLOR_RGB2GRAY)
    fwd = dis_flow(gray_cur, gray_prev)  # f: frame k+1 -> frame k
    bwd = dis_flow(gray_prev, gray_cur)  # b: frame k -> frame k+1
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    map_x, map_y = xs + fwd[..., 0], ys + fwd[..., 1]
    warped = _sample(a, map_x, map_y)  # frame k seen from frame k+1's grid
    b_at = _sample(bwd, map_x, map_y)  # b(p + f(p))
    mismatch = ((fwd + b_at) ** 2).sum(-1)
    scale = (fwd**2).sum(-1) + (b_at**2).sum(-1)
    inside = (map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)
    valid = inside & (mismatch < CONSISTENCY_ALPHA * scale + CONSISTENCY_BETA)
    squared = ((warped - b) ** 2).mean(-1)  # (h, w)
    return PairScores(
        mean_abs_diff=float(np.abs(current.astype(np.int16) - previous.astype(np.int16)).mean()),
        flow_magnitude=float(np.sqrt((fwd**2).sum(-1)).mean()),
        warping_error=float(squared[valid].mean()) if valid.any() else float("nan"),
        zero_flow_error=float(((a - b) ** 2).mean()),
        consistent_fraction=float(valid.mean()),
    )


class VideoMeter:
    """Feed frames one at a time (`add`), then read `scores()`; holds only the previous frame."""

    def __init__(self, clip=None, prompt: str | None = None):
        self.clip = clip  # a ClipScorer or None
        self.prompt = prompt
        self.frames = 0
        self.size: tuple[int, int] | None = None  # (w, h)
        self._previous: np.ndarray | None = None
        self.pairs: list[PairScores] = []  # a few floats per pair; frames are not kept
        self._clip_stream = clip.stream(prompt) if clip is not None else None

    def add(self, frame: np.ndarray) -> None:
        frame = np.ascontiguousarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"frames must be uint8 RGB (h, w, 3), got {frame.dtype} {frame.shape}")
        size = (frame.shape[1], frame.shape[0])
        if self.size is None:
            self.size = size
        elif size != self.size:
            raise ValueError(f"frame {self.frames} is {size[0]}x{size[1]}, the video is {self.size[0]}x{self.size[1]}")
        if self._previous is not None:
            self.pairs.append(score_pair(self._previous, frame))
        if self._clip_stream is not None:
            self._clip_stream.add(frame)
        self._previous = frame
        self.frames += 1

    def scores(self) -> VideoScores:
        w, h = self.size or (0, 0)
        p = self.pairs
        warp = [x.warping_error for x in p]
        valid_warp = [x for x in warp if np.isfinite(x)]
        curves = {
            "temporal_flickering": [(255.0 - x.mean_abs_diff) / 255.0 for x in p],
            "flow_magnitude": [x.flow_magnitude for x in p],
            "warping_error": warp,
            "zero_flow_error": [x.zero_flow_error for x in p],
        }
        scores = VideoScores(
            frames=self.frames,
            width=w,
            height=h,
            temporal_flickering=_mean(curves["temporal_flickering"]),
            dynamic_degree=_mean(curves["flow_magnitude"]),
            warping_error=_mean(valid_warp),
            zero_flow_error=_mean(curves["zero_flow_error"]),
            consistent_fraction=_mean([x.consistent_fraction for x in p]),
            prompt=self.prompt,
            curves=curves,
        )
        if self._clip_stream is not None:
            consistency, text = self._clip_stream.finish()
            curves["clip_frame_consistency"] = consistency
            scores.clip_frame_consistency = _mean(consistency)
            scores.clip_model = self.clip.name
            if text is not None:
                curves["clip_text_score"] = text
                scores.clip_text_score = _mean(text)
        return scores


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def score_frames(frames: Iterable[np.ndarray], clip=None, prompt: str | None = None) -> VideoScores:
    """Scores of a stream of uint8 RGB frames."""
    meter = VideoMeter(clip, prompt)
    for frame in frames:
        meter.add(frame)
    return meter.scores()


def score_video(path, clip=None, prompt: str | None = None, frames: int | None = None) -> VideoScores:
    """Scores of a video file (or PNG folder), read one frame at a time; of its first `frames`
    only when given (copies of the last frame at the end would count as pairs with no change at
    all, which raises temporal flickering and CLIP consistency and lowers dynamic degree)."""
    from itertools import islice

    from ..media import iter_frames

    return score_frames(islice(iter_frames(path), frames), clip, prompt)
