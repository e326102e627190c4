"""Pose conditions: OpenPose-style skeleton images, drawn from MediaPipe Pose detections.

The OpenPose ControlNet was trained on skeletons drawn by ControlNet's OpenPose annotator: 18 body
keypoints in the COCO order of OpenPose's BODY_18 model, 17 limbs, 18 colours, black background.
Keypoint order, limb pairs and colours below are the published ones of that annotator
(lllyasviel/ControlNet, annotator/openpose/util.py, `draw_bodypose`); the drawing code is ours.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
import numpy as np

from .errors import ConditionError

KEYPOINTS = (
    "nose", "neck",
    "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist",
    "right_hip", "right_knee", "right_ankle",
    "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
)  # fmt: skip

# The 17 limbs the annotator draws, as 0-based keypoint pairs, in its drawing order (its list
# has two more, ear-shoulder, which it never draws). Limb i is drawn in COLOURS[i].
LIMBS = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10),
    (1, 11), (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
)  # fmt: skip

# RGB; keypoint i is drawn in COLOURS[i]. A hue wheel from red through green and blue to pink.
COLOURS = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0),
    (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255),
    (0, 0, 255), (85, 0, 255), (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85),
)  # fmt: skip

LIMB_OPACITY = 0.6  # limbs are blended over what is drawn, joints drawn first at full colour
REFERENCE_SIZE = 512  # the annotator's stick half-width and joint radius are 4 px at 512 px

# MediaPipe Pose landmark index for each OpenPose keypoint (None: the neck, made from the
# shoulders). Both name sides from the person's point of view. MediaPipe's 33-landmark order
# is the one in its pose_landmarker documentation (0 nose, 2 left eye, 5 right eye, 7/8 ears,
# 11/12 shoulders, 13/14 elbows, 15/16 wrists, 23/24 hips, 25/26 knees, 27/28 ankles).
MEDIAPIPE_INDEX = (0, None, 12, 14, 16, 11, 13, 15, 24, 26, 28, 23, 25, 27, 5, 2, 8, 7)
MP_LEFT_SHOULDER, MP_RIGHT_SHOULDER = 11, 12

MEDIAPIPE_INSTALL = (
    'pip install --no-deps mediapipe==0.10.14 && '
    'pip install absl-py attrs flatbuffers "protobuf<5,>=4.25.3" matplotlib'
)


def empty_pose() -> np.ndarray:
    return np.full((len(KEYPOINTS), 2), np.nan)


def draw_openpose(keypoints: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Skeleton image (H, W, 3) uint8 for (18, 2) pixel keypoints (x, y), NaN where missing.

    `keypoints` may also be (people, 18, 2). size is (W, H). Line width and joint radius scale
    with the short side (4 px at 512 px, at least 1).
    """
    width, height = size
    people = np.asarray(keypoints, dtype=np.float64)
    if people.ndim == 2:
        people = people[None]
    if people.ndim != 3 or people.shape[1:] != (len(KEYPOINTS), 2):
        raise ValueError(f"keypoints must be (18, 2) or (people, 18, 2), got {people.shape}")
    canvas = np.zeros((height, width, 3), np.uint8)
    thickness = max(1, round(4 * min(width, height) / REFERENCE_SIZE))

    for person in people:
        for i, (x, y) in enumerate(person):
            if np.isfinite(x) and np.isfinite(y):
                cv2.circle(canvas, (round(x), round(y)), thickness, COLOURS[i], thickness=-1)
    for person in people:
        for i, (a, b) in enumerate(LIMBS):
            ends = person[[a, b]]  # (2, 2)
            if np.isfinite(ends).all():
                _blend_limb(canvas, ends, thickness, COLOURS[i])
    return canvas


def _blend_limb(canvas: np.ndarray, ends: np.ndarray, half_width: int, colour: tuple[int, ...]) -> None:
    """An ellipse from joint to joint, `half_width` thick, blended at LIMB_OPACITY over canvas."""
    (x0, y0), (x1, y1) = ends
    length = math.hypot(x1 - x0, y1 - y0)
    angle = math.degrees(math.atan2(y1 - y0, x1 - x0))
    centre = (round((x0 + x1) / 2), round((y0 + y1) / 2))
    polygon = cv2.ellipse2Poly(centre, (round(length / 2), half_width), round(angle), 0, 360, 1)
    mask = np.zeros(canvas.shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, polygon, 1)
    inside = mask.astype(bool)
    mixed = (1 - LIMB_OPACITY) * canvas[inside] + LIMB_OPACITY * np.asarray(colour, np.float64)
    canvas[inside] = np.round(mixed).astype(np.uint8)


def mediapipe_to_openpose(
    landmarks: np.ndarray, width: int, height: int, min_visibility: float = 0.5
) -> np.ndarray:
    """MediaPipe Pose's 33 normalised landmarks (x, y, z[, visibility]) as (18, 2) pixel keypoints.

    A point is NaN when its visibility is below `min_visibility` or it lies outside the image
    (MediaPipe guesses positions of body parts out of frame; OpenPose would not report them).
    The neck is the mid-point of the shoulders, NaN unless both are kept.
    """
    marks = np.asarray(landmarks, dtype=np.float64)
    if marks.ndim != 2 or marks.shape[0] != 33 or marks.shape[1] not in (3, 4):
        raise ValueError(f"expected MediaPipe's 33 landmarks as (33, 3) or (33, 4), got {marks.shape}")
    xy = marks[:, :2] * (width, height)  # (33, 2) pixels
    keep = (marks[:, 0] >= 0) & (marks[:, 0] <= 1) & (marks[:, 1] >= 0) & (marks[:, 1] <= 1)
    if marks.shape[1] == 4:
        keep &= marks[:, 3] >= min_visibility
    xy[~keep] = np.nan

    out = empty_pose()
    for i, mp_index in enumerate(MEDIAPIPE_INDEX):
        if mp_index is not None:
            out[i] = xy[mp_index]
    out[1] = (xy[MP_LEFT_SHOULDER] + xy[MP_RIGHT_SHOULDER]) / 2  # NaN if either is missing
    return out


class PoseExtractor:
    """One person's pose per frame with MediaPipe Pose (an optional dependency).

    Video mode (the default) tracks the person from frame to frame, steadier and faster than
    detecting in every frame. The landmark model is MediaPipe's "full" one (model complexity 1),
    the only one its wheel ships; the lite and heavy ones would be downloaded on first use.
    """

    def __init__(
        self, min_detection_confidence: float = 0.5, min_visibility: float = 0.5, video_mode: bool = True
    ):
        pose_module = _import_mediapipe_pose()
        self.min_visibility = min_visibility
        # The graph's threads log TFLite/absl start-up notices as its models load; one blank
        # frame makes sure they are loaded (and the notices gone) before stderr is given back.
        with _native_stderr_silenced():
            self._pose = pose_module.Pose(
                static_image_mode=not video_mode,
                model_complexity=1,
                min_detection_confidence=min_detection_confidence,
            )
            self._pose.process(np.zeros((64, 64, 3), np.uint8))

    def __call__(self, frame: np.ndarray) -> np.ndarray | None:
        """(18, 2) pixel keypoints of the person in an RGB uint8 frame; None if none is found."""
        height, width = frame.shape[:2]
        result = self._pose.process(np.ascontiguousarray(frame))
        if result.pose_landmarks is None:
            return None
        marks = np.array([(p.x, p.y, p.z, p.visibility) for p in result.pose_landmarks.landmark])
        keypoints = mediapipe_to_openpose(marks, width, height, self.min_visibility)
        return None if np.isnan(keypoints).all() else keypoints

    def close(self) -> None:
        self._pose.close()

    def __enter__(self) -> PoseExtractor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to the null device for a moment: MediaPipe's C++ start-up notices
    ("Created TensorFlow Lite XNNPACK delegate", feedback-tensor warnings) bypass every logging
    setting and would clutter the command line's output. Errors still arrive as exceptions."""
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all (a windowed app on Windows)
        yield
        return
    try:
        if sys.stderr is not None:
            sys.stderr.flush()
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 2)
        finally:
            os.close(null)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _import_mediapipe_pose():
    # MediaPipe's C++ side logs at INFO to stderr unless told otherwise before it loads.
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        from mediapipe.python.solutions import pose
    except ImportError as e:
        raise ConditionError(
            f"pose extraction needs MediaPipe ({e.msg}); install it with: {MEDIAPIPE_INSTALL}"
        ) from None
    except Exception as e:  # e.g. a protobuf 5 beside it: "Descriptors cannot be created directly"
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConditionError(
            f"MediaPipe is installed but does not load ({first_line}); reinstall it with: "
            f"{MEDIAPIPE_INSTALL}"
        ) from None
    return pose


@dataclass
class PoseSummary:
    frames: int
    detected: int  # frames where the detector found a person
    interpolated: int  # short gaps filled between two detections
    empty: int  # frames left without a skeleton

    def __str__(self) -> str:
        return (
            f"pose: person found in {self.detected} of {self.frames} frames, "
            f"{self.interpolated} filled by interpolation, {self.empty} left empty"
        )


def fill_gaps(poses: list[np.ndarray | None], max_gap: int = 4) -> tuple[list[np.ndarray], int]:
    """Fill runs of at most `max_gap` missing poses by linear interpolation between the poses on
    either side; longer runs, and runs at the start or end, become empty (all-NaN) poses.

    A keypoint missing on either side stays missing. Returns the poses and how many were filled.
    """
    if max_gap < 0:
        raise ValueError(f"max gap must be 0 or more, got {max_gap}")
    out = [empty_pose() if p is None else np.asarray(p, dtype=np.float64) for p in poses]
    found = [i for i, p in enumerate(poses) if p is not None]
    filled = 0
    for before, after in zip(found, found[1:]):
        gap = after - before - 1
        if 0 < gap <= max_gap:
            for k in range(before + 1, after):
                t = (k - before) / (after - before)
                out[k] = (1 - t) * out[before] + t * out[after]
            filled += gap
    return out, filled


def extract_pose_video(
    frames: Iterable[np.ndarray],
    max_gap: int = 4,
    extractor: Callable[[np.ndarray], np.ndarray | None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[np.ndarray], PoseSummary]:
    """Detect a pose in every frame, then fill short gaps; (18, 2) pixel keypoints per frame.

    Frames are pulled one at a time and only keypoints are kept. `extractor` is a PoseExtractor
    or any callable frame -> keypoints or None; without one a PoseExtractor is made, and closed
    at the end. `progress(done)` is called after each frame.
    """
    if max_gap < 0:
        raise ValueError(f"max gap must be 0 or more, got {max_gap}")
    own = extractor is None
    detect = PoseExtractor() if extractor is None else extractor
    found: list[np.ndarray | None] = []
    try:
        for frame in frames:
            found.append(detect(frame))
            if progress is not None:
                progress(len(found))
    finally:
        if own:
            detect.close()
    poses, filled = fill_gaps(found, max_gap)
    detected = sum(p is not None for p in found)
    summary = PoseSummary(len(found), detected, filled, len(found) - detected - filled)
    return poses, summary


def looks_like_skeleton(frame: np.ndarray) -> bool:
    """True for an OpenPose-style image: mostly black, with a few strongly coloured pixels.

    An all-black frame is not counted (it could be any video's fade); canny maps (white lines)
    and depth maps (grey) are not saturated, so they are not taken for skeletons either.
    """
    rgb = frame.astype(np.int16)
    brightest, darkest = rgb.max(axis=2), rgb.min(axis=2)
    lit = brightest >= 60
    lit_share = lit.mean()
    if (brightest < 30).mean() < 0.8 or lit_share < 0.0005:
        return False
    saturation = (brightest[lit] - darkest[lit]) / brightest[lit]
    return bool((saturation > 0.5).mean() >= 0.7)
