"""Pose conditions: OpenPose skeletons drawn where the keypoints are, MediaPipe mapped onto them,
gaps filled, skeleton videos recognised."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from test_source import write_video

from t2vz_desktop.conditions import (
    MEDIAPIPE_INSTALL,
    ConditionError,
    PoseExtractor,
    SourceSpec,
    canny_condition,
    condition_frames,
    draw_openpose,
    extract_pose_video,
    fill_gaps,
    looks_like_skeleton,
    mediapipe_to_openpose,
    open_source,
)
from t2vz_desktop.conditions.pose import COLOURS, KEYPOINTS, LIMBS, MEDIAPIPE_INDEX

NEEDS_MEDIAPIPE = f"needs MediaPipe; install it with: {MEDIAPIPE_INSTALL}"

# A person standing, 512x512, arms down (x, y in pixels), in OpenPose order.
STANDING = np.array(
    [
        [256, 100], [256, 150],  # nose, neck
        [216, 150], [196, 210], [186, 270],  # right shoulder, elbow, wrist (image left)
        [296, 150], [316, 210], [326, 270],  # left shoulder, elbow, wrist
        [226, 280], [226, 360], [226, 440],  # right hip, knee, ankle
        [286, 280], [286, 360], [286, 440],  # left hip, knee, ankle
        [246, 90], [266, 90], [236, 95], [276, 95],  # eyes, ears
    ],
    float,
)  # fmt: skip


def limb_colour(i: int) -> list[int]:
    """A limb over black: 60% of its colour."""
    return [round(0.6 * c) for c in COLOURS[i]]


def test_openpose_tables_have_the_published_shape() -> None:
    assert len(KEYPOINTS) == 18 and len(COLOURS) == 18 and len(LIMBS) == 17
    assert KEYPOINTS[:2] == ("nose", "neck") and KEYPOINTS[-1] == "left_ear"
    assert LIMBS[0] == (1, 2) and COLOURS[0] == (255, 0, 0)  # neck-right shoulder in red


def test_limbs_and_joints_are_drawn_where_the_keypoints_are_in_their_colours() -> None:
    image = draw_openpose(STANDING, (512, 512))
    assert image.shape == (512, 512, 3) and image.dtype == np.uint8

    for i, (a, b) in enumerate(LIMBS):  # the middle of every limb shows the limb's colour
        x, y = (STANDING[a] + STANDING[b]) / 2
        assert image[round(y), round(x)].tolist() == limb_colour(i), KEYPOINTS[a] + "-" + KEYPOINTS[b]

    # Just beyond the right wrist, along the forearm, only the wrist's dot is drawn.
    elbow, wrist = STANDING[3], STANDING[4]
    x, y = wrist + 3 * (wrist - elbow) / np.linalg.norm(wrist - elbow)
    assert image[round(y), round(x)].tolist() == list(COLOURS[4])

    assert image[20, 20].tolist() == [0, 0, 0] and image[500, 256].tolist() == [0, 0, 0]
    assert (image.max(axis=2) > 0).mean() < 0.05  # a thin skeleton on black


def test_line_width_grows_with_the_image_size() -> None:
    def thigh_width(size: int) -> int:
        image = draw_openpose(STANDING * size / 512, (size, size))
        row = image[round(320 * size / 512)]  # across both thighs, halfway down
        return int((row[: size // 2].max(axis=1) > 0).sum())

    assert thigh_width(1024) >= 2 * thigh_width(512) - 1
    assert thigh_width(128) >= 1


def test_missing_keypoints_drop_their_limbs() -> None:
    pose = STANDING.copy()
    pose[4] = np.nan  # right wrist not seen
    image = draw_openpose(pose, (512, 512))
    x, y = (STANDING[3] + STANDING[4]) / 2
    assert image[round(y), round(x)].tolist() == [0, 0, 0]  # no forearm
    assert draw_openpose(np.full((18, 2), np.nan), (64, 48)).max() == 0
    with pytest.raises(ValueError, match="18, 2"):
        draw_openpose(np.zeros((17, 2)), (64, 64))


def mediapipe_landmarks(visibility: float = 0.9) -> np.ndarray:
    """33 normalised landmarks (x, y, z, visibility): landmark k at x = 0.01 + 0.02 k, y = 0.5."""
    marks = np.zeros((33, 4))
    marks[:, 0] = 0.01 + 0.02 * np.arange(33)
    marks[:, 1] = 0.5
    marks[:, 3] = visibility
    return marks


def test_mediapipe_landmarks_map_onto_openpose_keypoints() -> None:
    marks = mediapipe_landmarks()
    pose = mediapipe_to_openpose(marks, 200, 100)
    assert pose.shape == (18, 2)
    x = lambda k: (0.01 + 0.02 * k) * 200  # noqa: E731 - pixel x of MediaPipe landmark k
    assert pose[0].tolist() == pytest.approx([x(0), 50])  # nose
    assert pose[2, 0] == pytest.approx(x(12)) and pose[5, 0] == pytest.approx(x(11))  # shoulders
    assert pose[1, 0] == pytest.approx((x(11) + x(12)) / 2)  # neck between the shoulders
    assert pose[10, 0] == pytest.approx(x(28)) and pose[17, 0] == pytest.approx(x(7))  # r-ankle, l-ear
    for openpose_index, mp_index in enumerate(MEDIAPIPE_INDEX):
        if mp_index is not None:
            assert pose[openpose_index, 0] == pytest.approx(x(mp_index))

    assert np.isfinite(mediapipe_to_openpose(marks[:, :3], 200, 100)).all()  # no visibility: all kept


def test_unsure_or_out_of_frame_landmarks_become_missing() -> None:
    marks = mediapipe_landmarks()
    marks[12, 3] = 0.2  # right shoulder barely visible
    marks[27, 0] = 1.3  # left ankle guessed outside the frame
    pose = mediapipe_to_openpose(marks, 200, 100, min_visibility=0.5)
    assert np.isnan(pose[2]).all() and np.isnan(pose[1]).all()  # the shoulder, and so the neck
    assert np.isnan(pose[13]).all()
    assert np.isfinite(pose[5]).all()
    assert np.isnan(mediapipe_to_openpose(mediapipe_landmarks(0.1), 200, 100)).all()
    with pytest.raises(ValueError, match="33"):
        mediapipe_to_openpose(np.zeros((17, 3)), 10, 10)


def shifted(dx: float) -> np.ndarray:
    return STANDING + (dx, 0)


def test_short_gaps_are_interpolated_and_long_ones_left_empty() -> None:
    found = [shifted(0), None, None, None, shifted(40)] + [None] * 5 + [shifted(0), None]
    poses, filled = fill_gaps(found, max_gap=4)
    assert filled == 3
    for k in (1, 2, 3):  # a person walking right 10 px a frame between the two detections
        np.testing.assert_allclose(poses[k], shifted(10 * k))
    for k in (5, 6, 7, 8, 9, 11):  # the 5-frame gap and the trailing frame stay empty
        assert np.isnan(poses[k]).all()
    assert fill_gaps(found, max_gap=5)[1] == 8


def test_a_keypoint_missing_on_one_side_stays_missing_in_the_gap() -> None:
    after = shifted(20)
    after[4] = np.nan
    poses, _ = fill_gaps([shifted(0), None, after], max_gap=2)
    assert np.isnan(poses[1][4]).all() and np.isfinite(np.delete(poses[1], 4, axis=0)).all()


def test_the_summary_counts_detected_interpolated_and_empty_frames() -> None:
    script = iter([shifted(0), None, shifted(8), None, None, None, None, None, None])

    def fake_detector(frame: np.ndarray) -> np.ndarray | None:
        return next(script)

    frames = (np.zeros((8, 8, 3), np.uint8) for _ in range(9))
    poses, summary = extract_pose_video(frames, max_gap=2, extractor=fake_detector)
    assert len(poses) == 9
    assert (summary.frames, summary.detected, summary.interpolated, summary.empty) == (9, 2, 1, 6)
    assert "2 of 9" in str(summary)


def test_skeleton_videos_are_told_from_ordinary_ones(tmp_path: Path) -> None:
    skeleton = draw_openpose(STANDING, (512, 512))
    assert looks_like_skeleton(skeleton)
    # after an H.264 round trip (chroma at quarter resolution) as well
    path = write_video(tmp_path / "skeleton.mp4", [skeleton] * 2)
    assert looks_like_skeleton(next(open_source(SourceSpec(path)).iter_frames()))

    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    square = np.zeros((256, 256, 3), np.uint8)
    square[100:150, 80:140] = 255
    depth = np.repeat(np.linspace(0, 255, 256, dtype=np.uint8)[None, :, None], 3, axis=2).repeat(256, axis=0)
    for other in (photo, canny_condition(square), depth, np.zeros((64, 64, 3), np.uint8)):
        assert not looks_like_skeleton(other)


def test_a_skeleton_video_is_used_as_it_is(tmp_path: Path) -> None:
    skeletons = [draw_openpose(shifted(8 * i), (512, 512)) for i in range(3)]
    path = write_video(tmp_path / "dance.mkv", skeletons)
    clip = open_source(SourceSpec(path, width=256, height=256))
    frames = list(condition_frames("pose", clip))  # needs no MediaPipe
    assert len(frames) == 3
    np.testing.assert_array_equal(frames[2], clip.read_all_uint8()[2])


def test_missing_mediapipe_names_the_install_command(monkeypatch) -> None:
    for name in [n for n in sys.modules if n.startswith("mediapipe")] + ["mediapipe", "mediapipe.python.solutions"]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ConditionError) as caught:
        PoseExtractor()
    assert "pip install --no-deps mediapipe==0.10.14" in str(caught.value)


def test_mediapipe_finds_nobody_in_blank_frames(tmp_path: Path) -> None:
    pytest.importorskip("mediapipe", reason=NEEDS_MEDIAPIPE)
    path = write_video(tmp_path / "blank.mp4", [np.zeros((96, 128, 3), np.uint8)] * 4)
    clip = open_source(SourceSpec(path, width=128, height=96))
    summaries = []
    frames = list(condition_frames("pose", clip, on_summary=summaries.append))
    assert len(frames) == 4 and all(f.shape == (96, 128, 3) and f.max() == 0 for f in frames)
    [summary] = summaries
    assert (summary.frames, summary.detected, summary.interpolated, summary.empty) == (4, 0, 0, 4)
