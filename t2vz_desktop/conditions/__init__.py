"""Condition videos for guided editing: Canny edges, OpenPose skeletons, depth maps.

Qt-free; torch and transformers are imported only for depth estimation, MediaPipe only for
pose extraction. The one entry point is `condition_frames(mode, clip, **options)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from .canny import canny_condition, check_thresholds
from .depth import DEFAULT_DEPTH_MODEL, DepthEstimator, DepthRange, depth_frames
from .errors import ConditionError
from .pose import (
    MEDIAPIPE_INSTALL,
    PoseExtractor,
    PoseSummary,
    draw_openpose,
    extract_pose_video,
    fill_gaps,
    looks_like_skeleton,
    mediapipe_to_openpose,
)
from .source import SourceClip, SourceSpec, fit_frame, open_source, target_size

MODES = ("canny", "pose", "depth")
SOURCE_KINDS = ("auto", "video", "condition")
SKELETON_PROBE_FRAMES = 16

__all__ = [
    "DEFAULT_DEPTH_MODEL",
    "MEDIAPIPE_INSTALL",
    "MODES",
    "SOURCE_KINDS",
    "ConditionError",
    "DepthEstimator",
    "DepthRange",
    "PoseExtractor",
    "PoseSummary",
    "SourceClip",
    "SourceSpec",
    "canny_condition",
    "condition_frames",
    "draw_openpose",
    "extract_pose_video",
    "fill_gaps",
    "fit_frame",
    "is_condition_video",
    "looks_like_skeleton",
    "mediapipe_to_openpose",
    "open_source",
    "target_size",
]

_OPTIONS = {
    "canny": {"low", "high", "blur_sigma"},
    "pose": {"max_gap", "min_visibility", "extractor", "on_summary", "progress"},
    "depth": {"model", "estimator", "device", "calibration_frames", "progress"},
}


def condition_frames(
    mode: str, source_clip: SourceClip, source_kind: str = "auto", **options
) -> Iterator[np.ndarray]:
    """The condition image of every frame of the clip, uint8 RGB (H, W, 3) at the clip's size.

    source_kind: "video" computes conditions from the frames; "condition" takes the clip as a
    ready condition video (a skeleton, edge or depth video) and only resizes it; "auto" is
    "condition" for pose when the clip looks like a skeleton video, else "video".

    Options (all optional):
      canny: low=100, high=200, blur_sigma=0.0
      pose:  max_gap=4, min_visibility=0.5, extractor=PoseExtractor,
             on_summary(PoseSummary) called once detection is done,
             progress(phase, done, total) during detection
      depth: model=DEFAULT_DEPTH_MODEL (folder or cached hub id) or estimator=DepthEstimator,
             device=None (auto), calibration_frames=8, progress(phase, done, total)

    Options, packages and models are checked here, before the first frame is asked for;
    frames are then decoded and converted one at a time.
    """
    if mode not in MODES:
        raise ConditionError(f"unknown condition mode {mode!r}, use one of {', '.join(MODES)}")
    if source_kind not in SOURCE_KINDS:
        raise ConditionError(f"source kind must be one of {', '.join(SOURCE_KINDS)}, got {source_kind!r}")
    unknown = sorted(set(options) - _OPTIONS[mode])
    if unknown:
        raise ConditionError(f"unknown option(s) for {mode} conditions: {', '.join(unknown)}")
    if source_kind == "auto":
        source_kind = "condition" if is_condition_video(mode, source_clip) else "video"
    if source_kind == "condition":
        return source_clip.iter_frames()
    if mode == "canny":
        return _canny(source_clip, **options)
    if mode == "pose":
        return _pose(source_clip, **options)
    return _depth(source_clip, **options)


def is_condition_video(mode: str, clip: SourceClip) -> bool:
    """Whether "auto" takes the clip as a ready condition video: for pose, when the first frame
    that is not all black (among the first few) looks like an OpenPose skeleton."""
    if mode != "pose":
        return False
    frames = clip.iter_frames()
    try:
        for i, frame in enumerate(frames):
            if i >= SKELETON_PROBE_FRAMES:
                break
            if frame.max() >= 60:  # something is drawn
                return looks_like_skeleton(frame)
    finally:
        frames.close()
    return False


def _canny(clip: SourceClip, low: float = 100, high: float = 200, blur_sigma: float = 0.0) -> Iterator[np.ndarray]:
    check_thresholds(low, high)
    if blur_sigma < 0:
        raise ValueError(f"blur sigma must be 0 or more, got {blur_sigma}")
    return (canny_condition(frame, low, high, blur_sigma) for frame in clip.iter_frames())


def _pose(
    clip: SourceClip,
    max_gap: int = 4,
    min_visibility: float = 0.5,
    extractor: Callable[[np.ndarray], np.ndarray | None] | None = None,
    on_summary: Callable[[PoseSummary], None] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> Iterator[np.ndarray]:
    if max_gap < 0:
        raise ValueError(f"max gap must be 0 or more, got {max_gap}")
    own = extractor is None
    if extractor is None:  # made now, so a missing MediaPipe is reported before any work
        extractor = PoseExtractor(min_visibility=min_visibility)
    detect = extractor

    def frames() -> Iterator[np.ndarray]:
        def step(done: int) -> None:
            if progress is not None:
                progress("pose detection", done, clip.frames)

        try:
            poses, summary = extract_pose_video(clip.iter_frames(), max_gap, detect, step)
        finally:
            if own and isinstance(detect, PoseExtractor):
                detect.close()
        if on_summary is not None:
            on_summary(summary)
        for keypoints in poses:
            yield draw_openpose(keypoints, clip.size)

    return frames()


def _depth(
    clip: SourceClip,
    model: str = DEFAULT_DEPTH_MODEL,
    estimator: Callable[[np.ndarray], np.ndarray] | None = None,
    device: str | None = None,
    calibration_frames: int = 8,
    progress: Callable[[str, int, int], None] | None = None,
) -> Iterator[np.ndarray]:
    if calibration_frames < 1:
        raise ValueError(f"calibration frames must be at least 1, got {calibration_frames}")
    if estimator is None:
        estimator = DepthEstimator(model, device)
    return depth_frames(clip, estimator, calibration_frames, progress)
