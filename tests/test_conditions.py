"""Canny and depth conditions, the condition_frames entry point and `t2vz condition`."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from test_source import write_video

from t2vz_desktop.conditions import (
    ConditionError,
    DepthEstimator,
    SourceSpec,
    canny_condition,
    condition_frames,
    open_source,
)
from t2vz_desktop.conditions.command import add_condition_command, run_condition


def moving_square(n: int = 8, dx: int = 4, width: int = 96, height: int = 64) -> list[np.ndarray]:
    """A white 20 px square on black, moving right by dx pixels a frame."""
    frames = []
    for i in range(n):
        frame = np.zeros((height, width, 3), np.uint8)
        x = 10 + dx * i
        frame[20:40, x : x + 20] = 255
        frames.append(frame)
    return frames


@pytest.fixture(scope="module")
def square_video(tmp_path_factory) -> Path:
    return write_video(tmp_path_factory.mktemp("square") / "square.mp4", moving_square(), fps=8)


def edge_centroid(edges: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(edges[:, :, 0])
    return np.array([xs.mean(), ys.mean()])


def test_conditions_load_without_qt_torch_or_mediapipe() -> None:
    """Canny and ready-made conditions work in a plain install; heavy packages load on demand."""
    code = (
        "import sys, t2vz_desktop.conditions, t2vz_desktop.conditions.command;"
        "heavy = ('PySide6', 'shiboken6', 'torch', 'transformers', 'mediapipe');"
        "bad = [m for m in sys.modules if m.split('.')[0] in heavy];"
        "assert not bad, bad"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[1], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]


# ---- Canny ----


def test_canny_gives_white_edges_on_black_in_three_equal_channels() -> None:
    square = moving_square(1)[0]
    edges = canny_condition(square)
    assert edges.shape == (64, 96, 3) and edges.dtype == np.uint8
    assert set(np.unique(edges)) == {0, 255}
    assert (edges[:, :, 0] == edges[:, :, 1]).all() and (edges[:, :, 1] == edges[:, :, 2]).all()
    assert edges[30, 20].max() == 0 and edges[5, 5].max() == 0  # inside and outside the square
    assert edges[20:40, 8:13].max() == 255  # its left side
    assert canny_condition(square[:, :, 0]).shape == (64, 96, 3)  # a grey frame works too


def test_canny_edges_follow_the_moving_square(square_video: Path) -> None:
    clip = open_source(SourceSpec(square_video, width=192, height=128))  # everything twice as big
    centroids = [edge_centroid(e) for e in condition_frames("canny", clip)]
    steps = np.diff(centroids, axis=0)
    np.testing.assert_allclose(steps[:, 0], 8, atol=1.0)  # 4 px a frame, scaled by 2
    np.testing.assert_allclose(steps[:, 1], 0, atol=1.0)


def test_canny_finds_an_edge_between_colours_of_the_same_brightness() -> None:
    """Found editing a red square on a blue background with the demo model: through grey (luma 86
    against 75) it had no edge, so the ControlNet saw a black frame and the edit ignored the
    source. Read in colour, as the Canny ControlNets' own annotator does (cv2.Canny on RGB)."""
    frame = np.empty((64, 64, 3), np.uint8)
    frame[:] = (30, 70, 220)
    frame[16:48, 16:48] = (220, 30, 30)
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    assert canny_condition(grey).max() == 0  # luma alone hides it
    edges = canny_condition(frame)[:, :, 0] > 0
    assert edges[16:48, 14:18].any(axis=1).all() and edges[14:18, 16:48].any(axis=0).all()  # all four sides
    assert edges[46:50, 16:48].any(axis=0).all() and edges[16:48, 46:50].any(axis=1).all()
    assert not edges[22:42, 22:42].any() and not edges[:10].any()  # nothing inside or far outside


@pytest.mark.parametrize(("low", "high"), [(200, 100), (100, 100), (-1, 50), (10, 300)])
def test_canny_thresholds_are_checked(low: int, high: int) -> None:
    with pytest.raises(ValueError, match="0 <= low < high <= 255"):
        canny_condition(moving_square(1)[0], low, high)


def test_blur_removes_edges_of_fine_noise() -> None:
    rng = np.random.default_rng(1)
    noisy = np.clip(moving_square(1)[0] + rng.normal(0, 40, (64, 96, 3)), 0, 255).astype(np.uint8)
    plain, blurred = canny_condition(noisy), canny_condition(noisy, blur_sigma=2.0)
    assert (blurred > 0).sum() < (plain > 0).sum() / 3
    assert blurred[20:40, 6:14].max() == 255  # the square's own edge survives


def test_unknown_modes_and_options_are_refused(square_video: Path) -> None:
    clip = open_source(SourceSpec(square_video, width=96, height=64))
    with pytest.raises(ConditionError, match="unknown condition mode"):
        condition_frames("scribble", clip)
    with pytest.raises(ConditionError, match="max_gap"):
        condition_frames("canny", clip, max_gap=3)
    with pytest.raises(ValueError, match="low"):
        condition_frames("canny", clip, low=250, high=10)  # raised at once, not at the first frame


def test_a_ready_condition_video_is_only_resized(square_video: Path) -> None:
    clip = open_source(SourceSpec(square_video, width=48, height=32))
    frames = list(condition_frames("depth", clip, source_kind="condition"))  # no depth model needed
    assert len(frames) == 8 and frames[0].shape == (32, 48, 3)


# ---- depth ----


@pytest.fixture(scope="module")
def tiny_depth_model(tmp_path_factory) -> Path:
    """A DPT depth model with random weights (30 k parameters) saved with its image processor."""
    import tiny_models

    return tiny_models.save_tiny_depth_model(tmp_path_factory.mktemp("depth") / "tiny-dpt")


def test_the_depth_model_gives_one_value_per_pixel(tiny_depth_model: Path) -> None:
    estimator = DepthEstimator(tiny_depth_model, device="cpu")
    depth = estimator(moving_square(1)[0])
    assert depth.shape == (64, 96) and np.isfinite(depth).all()


def test_depth_conditions_are_grey_frames_at_the_clip_size(square_video: Path, tiny_depth_model: Path) -> None:
    clip = open_source(SourceSpec(square_video, width=64, height=48, max_frames=3))
    frames = list(condition_frames("depth", clip, model=str(tiny_depth_model), device="cpu"))
    assert len(frames) == 3
    for frame in frames:
        assert frame.shape == (48, 64, 3) and frame.dtype == np.uint8
        assert (frame[:, :, 0] == frame[:, :, 2]).all()
    assert max(int(f.max()) - int(f.min()) for f in frames) > 0


def test_depth_is_normalised_over_the_video_not_per_frame(tmp_path: Path) -> None:
    # Frame i: left half at level 40 + 20 i, right half at 200. A stand-in model that reads
    # nearness off the brightness shows whether one mapping serves every frame: the left half
    # must get brighter frame after frame; stretching each frame would make it black in all.
    frames = []
    for i in range(6):
        frame = np.full((32, 48, 3), 200, np.uint8)
        frame[:, :24] = 40 + 20 * i
        frames.append(frame)
    clip = open_source(SourceSpec(write_video(tmp_path / "levels.mkv", frames), width=48, height=32))
    calls = []

    def brightness(frame: np.ndarray) -> np.ndarray:
        calls.append(1)
        return frame[:, :, 0].astype(np.float32)

    out = list(condition_frames("depth", clip, estimator=brightness, calibration_frames=3))
    left = [int(f[:, :12].mean()) for f in out]
    assert left == sorted(left) and left[-1] - left[0] > 150
    assert all(f[:, 30:].mean() == 255 for f in out)  # the near right half stays white
    assert len(calls) == 6  # calibration maps are reused: the model runs once per frame


def test_a_depth_model_that_is_not_here_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(ConditionError, match="hf download someone/no-such-depth-model"):
        DepthEstimator("someone/no-such-depth-model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConditionError, match="no config.json"):
        DepthEstimator(tmp_path / "empty")


# ---- t2vz condition ----


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="t2vz")
    add_condition_command(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def decoded_count(path: Path) -> tuple[int, int, int]:
    with av.open(str(path)) as container:
        frames = [f for f in container.decode(video=0)]
        return len(frames), frames[0].width, frames[0].height


def test_condition_command_writes_the_video(square_video: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "edges.mp4"
    args = parse(["condition", str(square_video), "--mode", "canny", "-o", str(out), "--width=96", "--step=2", "-q"])
    assert args.run is run_condition
    assert run_condition(args) == 0
    assert decoded_count(out) == (4, 96, 64)
    captured = capsys.readouterr()
    assert captured.out.strip() == str(out) and "canny: 4 frames, 96x64 at 4 fps" in captured.err
    assert sorted(os.listdir(tmp_path)) == ["edges.mp4"]  # no temporary files left


def test_condition_command_sizes_the_condition_as_an_edit_with_the_model_sees_it(square_video: Path, tmp_path: Path,
                                                                                  capsys) -> None:
    """A newcomer's `condition` made 512 px edges for a demo-model edit, which sees 64 px ones."""
    from t2vz_desktop.conditions.source import SourceSpec, open_source
    from t2vz_desktop.engine.request import ControlSpec, EditSpec

    out = tmp_path / "edges.mp4"
    assert run_condition(parse(["condition", str(square_video), "--mode", "canny", "-o", str(out), "--model", "demo",
                                "-q"])) == 0
    edit = EditSpec(source=str(square_video), controls=[ControlSpec("canny")])
    seen = next(open_source(SourceSpec.of_edit(edit, None, None, 64)).iter_frames()).shape  # the edit's frames
    assert decoded_count(out)[1:] == (seen[1], seen[0]) == (96, 64)
    out.unlink()
    assert run_condition(parse(["condition", str(square_video), "--mode", "canny", "-o", str(out), "-q"])) == 0
    assert decoded_count(out)[1:] == (768, 512)  # without --model: Stable Diffusion 1.5's 512


def test_condition_command_prints_the_pose_summary(tmp_path: Path, capsys) -> None:
    pytest.importorskip("mediapipe", reason="needs MediaPipe (pose extraction)")
    source = write_video(tmp_path / "empty_room.mp4", [np.full((64, 64, 3), 30, np.uint8)] * 3)
    out = tmp_path / "pose.mp4"
    argv = ["condition", str(source), "--mode", "pose", "--out", str(out), "--width", "64", "-q"]
    assert run_condition(parse(argv)) == 0
    err = capsys.readouterr().err
    assert "person found in 0 of 3 frames" in err and "t2vz: warning: no person was found in any frame" in err
    assert decoded_count(out) == (3, 64, 64)


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--low", "220", "--high", "20"], "low < high"),
        (["--start", "50"], "no frames in the chosen range"),
        (["--fit", "crop", "--width", "2"], "width"),
        (["--mode", "depth", "--depth-model", "someone/missing-model"], "hf download"),
        (["--model", "someone/missing-model"], "--model someone/missing-model: no such model here"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(square_video: Path, tmp_path: Path, capsys, extra, words) -> None:
    out = tmp_path / "out.mp4"
    argv = ["condition", str(square_video), "--mode", "canny", "--out", str(out), "-q", *extra]
    assert run_condition(parse(argv)) == 2
    err = capsys.readouterr().err
    assert err.startswith("t2vz: error:") and words in err and err.count("\n") == 1
    assert os.listdir(tmp_path) == []


def test_unreadable_source_or_target_exits_2(tmp_path: Path, capsys) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all" * 100)
    assert run_condition(parse(["condition", str(broken), "--mode", "canny", "--out", str(tmp_path / "o.mp4")])) == 2
    assert "broken.mp4" in capsys.readouterr().err
    missing_folder = tmp_path / "nowhere" / "o.mp4"
    assert run_condition(parse(["condition", str(broken), "--mode", "canny", "--out", str(missing_folder)])) == 2
    assert sorted(os.listdir(tmp_path)) == ["broken.mp4"]
