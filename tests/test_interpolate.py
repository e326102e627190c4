"""Frame interpolation by optical flow (engine/interpolate.py, `--interpolate FPS`): frame counts
and timing, originals kept in place, motion carried linearly, no ghosts at moving edges, and the
recipe and `t2vz eval` knowing which frames were made."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from t2vz_desktop.cli import main
from t2vz_desktop.engine.interpolate import between, interpolate_frames, output_count, output_times
from t2vz_desktop.engine.request import GenerationRequest
from t2vz_desktop.measure import score_frames
from t2vz_desktop.media import iter_frames, probe_video, read_recipe
from test_cli import base_args
from test_measure import texture

OBJECT, BACKGROUND = (230, 40, 40), (30, 60, 200)


def square_at(x: float, size: int = 96) -> np.ndarray:
    """A 24 px red square whose left edge is at x (sub-pixel, drawn at 8x and reduced)."""
    big = np.full((size * 8, size * 8, 3), BACKGROUND, np.uint8)
    cv2.rectangle(big, (round(x * 8), 30 * 8), (round((x + 24) * 8) - 1, 54 * 8 - 1), OBJECT, -1)
    return cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA)


def left_edge(frame: np.ndarray) -> float:
    """Sub-pixel left edge of the red square along row 42: the covered share of the edge pixel."""
    red = (frame[42, :, 0].astype(np.float32) - BACKGROUND[0]) / (OBJECT[0] - BACKGROUND[0])
    first = int(np.argmax(red > 0.02))
    return first + 1 - float(np.clip(red[first], 0, 1))


def ghost_pixels(frame: np.ndarray, x: float) -> int:
    """Pixels more than 1 px from the square's true outline whose colour is neither the square's nor
    the background's (40 levels summed): a faded copy of the object, or a hole torn in it."""
    far_from = [np.abs(frame.astype(np.int32) - c).sum(-1) > 40 for c in (OBJECT, BACKGROUND)]
    mixed = far_from[0] & far_from[1]
    outline = np.zeros(frame.shape[:2], np.uint8)
    cv2.rectangle(outline, (int(np.floor(x)), 30), (int(np.ceil(x + 24)) - 1, 53), 1, 1)
    near_edge = cv2.dilate(outline, np.ones((3, 3), np.uint8)).astype(bool)
    return int((mixed & ~near_edge).sum())


def test_eight_fps_to_twenty_four_is_three_n_with_the_originals_in_place():
    """8 frames at 8 fps play 1.00 s; at 24 fps so do 24 (the last one held for its 1/8 s)."""
    frames = [texture(seed=k) for k in range(8)]
    out = list(interpolate_frames(iter(frames), 8.0, 24.0, 8))
    assert len(out) == 3 * 8 == output_count(8, 8.0, 24.0)
    originals = [k for k, (_, original) in enumerate(out) if original]
    assert originals == list(range(0, 22, 3))
    assert all(out[3 * k][0] is frames[k] for k in range(8))  # passed through untouched
    assert out[22][0] is frames[7] and out[23][0] is frames[7]


@pytest.mark.parametrize("fps_in,fps_out,count,originals", [
    (8.0, 30.0, 30, [0, 15]),  # 1 s at 30 fps: 30 frames; 1/2 s is frame 15 and source frame 4
    (12.0, 60.0, 55, list(range(0, 51, 5))),  # 11 / 12 s
    (8.0, 8.0, 8, list(range(8))),  # no change
])
def test_other_rates(fps_in, fps_out, count, originals):
    frames = 8 if fps_in == 8.0 else 11
    plan = output_times(frames, fps_in, fps_out)
    assert len(plan) == count and [t.index for t in plan if t.original] == originals
    assert all(0 <= t.s < 1 for t in plan)
    shown = [t for t in plan if not t.held]
    assert all(abs((t.before + t.s) / fps_in - t.index / fps_out) < 1e-9 for t in shown)
    held = plan[len(shown):]  # after the last frame's time, up to the end of its 1 / fps_in s
    assert all(t.held and t.before == frames - 1 for t in held)
    assert all((frames - 1) / fps_in < t.index / fps_out < frames / fps_in for t in held)


@pytest.mark.parametrize("fps_out,count", [(24.0, 8), (30.0, 10)])
def test_a_rate_just_under_the_output_rate_adds_no_frame(fps_out, count):
    """Found by a newcomer: 8 frames at 23.976 fps (0.334 s) became 9 at 24 fps (0.375 s, 12%
    longer) and 11 at 30: every output time before the end counted, though 8.008 frames fit."""
    plan = output_times(8, 23.976, fps_out)
    assert len(plan) == count and plan[0].original and abs(count / fps_out - 8 / 23.976) < 0.5 / fps_out


def test_holding_the_last_frame_keeps_the_duration():
    plan = output_times(6, 8.0, 24.0)
    assert len(plan) == 18 and [t.before for t in plan[-3:]] == [5, 5, 5]
    assert plan[-3].original and plan[-2].held and plan[-1].held and not plan[-1].original


@pytest.mark.parametrize("fps_in,fps_out,match", [(24.0, 8.0, "below"), (8.0, 200.0, "16x"), (0.0, 24.0, "positive")])
def test_bad_rates_are_refused(fps_in, fps_out, match):
    with pytest.raises(ValueError, match=match):
        output_times(8, fps_in, fps_out)


def test_a_moving_square_is_drawn_at_its_time_without_ghosts():
    """6 px a frame at 8 fps to 24 fps: the frames between show the square 2 and 4 px along."""
    frames = [square_at(10 + 6 * k) for k in range(6)]
    out = [f for f, _ in interpolate_frames(iter(frames), 8.0, 24.0, 6)]
    assert out[16] is out[17] is frames[5]  # the last frame held to the end of its 1/8 s
    for j, frame in enumerate(out[:16]):
        x = 10 + 2 * j
        assert abs(left_edge(frame) - x) < 0.6, f"frame {j}: edge at {left_edge(frame):.2f}, expected {x}"
        assert ghost_pixels(frame, x) <= 4, f"frame {j}: {ghost_pixels(frame, x)} ghost pixels"


def test_a_plain_cross_fade_would_ghost():
    """The measure can fail: blending the two frames without flow leaves two faded squares. With
    flow, a move of half the square's width a frame (12 px) is still clean."""
    a, b = square_at(10), square_at(22)
    fade = np.clip(0.5 * a.astype(np.float32) + 0.5 * b + 0.5, 0, 255).astype(np.uint8)
    assert ghost_pixels(fade, 16) > 200
    middle = between(a, b, 0.5)
    assert ghost_pixels(middle, 16) <= 4 and abs(left_edge(middle) - 16) < 0.6


def test_four_x_keeps_the_warping_error_of_the_source():
    """A textured pan, 4 px a frame at 8 fps, made 32 fps: consecutive output frames warp onto each
    other no worse than the source's did (DIS-graded, not by the Farneback flow that made them)."""
    base = texture(seed=3, size=128)
    frames = [np.ascontiguousarray(np.roll(base, 4 * k, axis=1)) for k in range(6)]
    source = score_frames(frames).warping_error
    out = [f for f, _ in interpolate_frames(iter(frames), 8.0, 32.0, 6)]
    assert len(out) == 24
    assert score_frames(out).warping_error <= source * 1.05 + 1e-5, (score_frames(out).warping_error, source)


def test_generate_interpolates_on_export_and_the_recipe_and_eval_know_it(tiny_folder, tmp_path, capsys):
    out = tmp_path / "clip.mp4"
    assert main(base_args(tiny_folder, out) + ["--fps", "8", "--interpolate", "24"]) == 0
    info = probe_video(out)
    assert info.frames == 3 * 6 and info.fps == pytest.approx(24)  # 0.75 s, as the 6 frames at 8 fps
    recipe = GenerationRequest.from_json(read_recipe(out))
    assert recipe.interpolate_fps == 24 and recipe.frames == 6 and recipe.fps == 8
    again = tmp_path / "again"  # the recipe re-makes it, interpolation included
    assert main(["generate", "--recipe", str(out), "--out", str(again), "-q"]) == 0
    assert len(list(iter_frames(again))) == 18
    capsys.readouterr()
    assert main(["eval", str(out), "--no-plot"]) == 0
    report = json.loads((tmp_path / "clip.metrics.json").read_text())
    assert report["original_frames"] == list(range(0, 16, 3)) and report["held_frames"] == [16, 17]
    assert report["interpolated_frames"] == [k for k in range(16) if k % 3]
    text = capsys.readouterr().out
    assert "interpolated            10 of 18 frames" in text and "16, 17 (copies, not scored)" in text
    # a recipe copied beside another video does not describe it: noted, every frame scored
    other = tmp_path / "other.gif"  # a GIF has no tag of its own, so its sidecar is its recipe
    assert main(base_args(tiny_folder, other) + ["--fps", "8"]) == 0
    (tmp_path / "other.json").write_text((tmp_path / "clip.json").read_text())
    capsys.readouterr()
    assert main(["eval", str(other), "--no-plot"]) == 0
    assert "the recipe describes 18 frames at 24 fps and the video has 6 at 8" in capsys.readouterr().err
    assert "original_frames" not in json.loads((tmp_path / "other.metrics.json").read_text())
    # the two held copies add no still pairs: the scores are those of frames 0-15 alone
    alone = score_frames(list(iter_frames(out))[:16])
    assert report["frames"] == 16 and report["temporal_flickering"] == pytest.approx(alone.temporal_flickering)
    assert report["dynamic_degree"] == pytest.approx(alone.dynamic_degree) and len(report["curves"]["flow_magnitude"]) == 15


@pytest.mark.parametrize("value", ["4", "500", "0", "8", "200"])
def test_a_bad_interpolation_rate_is_one_line_and_exit_2(tiny_folder, tmp_path, capsys, value):
    out = tmp_path / "clip.mp4"
    assert main(base_args(tiny_folder, out) + ["--fps", "8", "--interpolate", value]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--interpolate" in err[0] and not out.exists()


@pytest.mark.parametrize("rate,suggested", [("8", "e.g. 24,"), ("24", "e.g. 30,"), ("60", "e.g. 120,")])
def test_the_videos_own_rate_suggests_a_higher_one(tiny_folder, tmp_path, capsys, rate, suggested):
    """It said 'give a higher rate, e.g. 24' for --fps 24 --interpolate 24 (found by a newcomer)."""
    out = tmp_path / "clip.mp4"
    assert main(base_args(tiny_folder, out) + ["--fps", rate, "--interpolate", rate]) == 2
    assert suggested in capsys.readouterr().err


def test_a_large_flat_square_keeps_a_straight_edge_on_every_row():
    """Tried in the app: an 80 px square moving 30 px a frame in a 480x270 clip showed a grey band
    along its sides (the two warps blended across a motion boundary) and a notch through its middle
    rows (Farneback lost the motion on two rows of a flat object). Each row's left edge at 1/3 of
    the way must now be where the square is, and no faded band drawn."""
    def picture(i):
        img = np.full((270, 480, 3), BACKGROUND, np.uint8)
        img[100:180, 40 + 30 * i : 120 + 30 * i] = OBJECT
        return img

    frame = between(picture(0), picture(1), 1 / 3)
    red = (frame[100:180, :, 0].astype(np.float32) - BACKGROUND[0]) / (OBJECT[0] - BACKGROUND[0])
    edges = [int(np.argmax(row > 0.5)) for row in red]
    assert all(abs(e - 50) <= 1 for e in edges), f"left edge per row: {sorted(set(edges))}"
    far = np.abs(frame.astype(int) - OBJECT).sum(-1) > 40
    mixed = far & (np.abs(frame.astype(int) - BACKGROUND).sum(-1) > 40)
    # the anti-aliased column on each side of 80 rows, and a few specks at the corners
    assert mixed.sum() <= 200, f"{mixed.sum()} pixels of neither colour: a faded band along the square's sides"
