"""Footage beyond the media zoo, made by tests/footage.py: every display-matrix orientation, a
camcorder's MPEG-TS/M2TS clock offset, B-frames with an edit list, a video that starts after its
sound, a second variable-frame-rate clip, a long Matroska file and each container users bring.
The same rules as the zoo: pictures upright, read by time, sound on the pictures' clock."""

from __future__ import annotations

import numpy as np
import pytest

import footage
from t2vz_desktop.app.project import VIDEO_SUFFIXES as APP_SUFFIXES
from t2vz_desktop.cli import main
from t2vz_desktop.media import ACCEPTED, VIDEO_SUFFIXES, frames_at, iter_frames, probe_video
from test_media_zoo import beep_onset, flashes, timeline_export

ORIENTATIONS = [(0, False, False), (90, False, False), (180, False, False), (270, False, False),
                (0, True, False), (0, False, True), (90, True, False), (90, False, True), (270, True, False)]


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    return tmp_path_factory.mktemp("footage")


def bar_side(frame: np.ndarray) -> str:
    """Which edge the red bar lies along in an RGB frame."""
    red = (frame[..., 0] > 200) & (frame[..., 1] < 60)
    rows, columns = red.any(axis=1), red.any(axis=0)
    if red[0].all():
        return "top"
    if red[-1].all():
        return "bottom"
    return "left" if red[:, 0].all() else "right" if red[:, -1].all() else f"none ({rows.sum()}x{columns.sum()})"


@pytest.mark.parametrize(("degrees", "hflip", "vflip"), ORIENTATIONS)
def test_every_orientation_is_shown_as_ffmpeg_shows_it(made, degrees, hflip, vflip):
    path = footage.rotated(made, degrees, hflip, vflip)
    info = probe_video(path)
    side = footage.displayed_bar_side(degrees, hflip, vflip)
    assert (info.width, info.height) == ((96, 64) if side in ("top", "bottom") else (64, 96))
    frames = list(iter_frames(path))
    assert len(frames) == 8
    assert bar_side(frames[0]) == side
    assert frames[0].shape == (info.height, info.width, 3)


@pytest.mark.parametrize("suffix", [".ts", ".m2ts", ".mts"])
def test_a_camcorder_clock_offset_is_taken_off_pictures_and_sound(made, tmp_path, suffix):
    path = footage.transport_stream(made, suffix, start_s=1.4)
    info = probe_video(path)
    assert info.start_s == pytest.approx(1.4, abs=0.01)
    assert (info.frames, info.duration_s, info.has_audio) == (20, pytest.approx(2.0, abs=0.05), True)
    assert flashes(path) == [10]
    assert beep_onset(path) == pytest.approx(1.0, abs=0.01)
    out = timeline_export(path, tmp_path / "t.mp4", fps=10, size=(64, 48))
    assert flashes(out) == [10]
    assert beep_onset(out) == pytest.approx(1.0, abs=0.1)
    sound = probe_video(out)
    assert sound.has_audio


def test_the_whole_sound_of_a_camcorder_clip_is_kept(made, tmp_path):
    """It kept 0.4 s of 2 s: absolute timestamps were cut against a 0-based range."""
    out = timeline_export(footage.transport_stream(made, ".m2ts", start_s=3600.0), tmp_path / "t.mp4", fps=10,
                          size=(64, 48))
    from t2vz_desktop.media import audio_blocks

    sound = np.concatenate(list(audio_blocks(out)), axis=1)
    assert sound.shape[1] / 48_000 == pytest.approx(2.0, abs=0.05)
    assert beep_onset(out) == pytest.approx(1.0, abs=0.1)


def test_b_frames_with_an_edit_list_start_on_the_first_picture(made):
    path = footage.edit_list(made)
    info = probe_video(path)
    assert (info.start_s, info.frames) == (0.0, 20)
    assert flashes(path) == [10]
    assert beep_onset(path) == pytest.approx(1.0, abs=0.01)
    # Reading from the middle seeks; reordered B-frames must still come out in display order.
    middle = [frame.mean() > 200 for frame in frames_at(path, [0.9, 1.0, 1.1])]
    assert middle == [False, True, False]


def test_a_video_that_starts_after_its_sound_is_timed_from_its_first_picture(made, tmp_path):
    path = footage.delayed_video(made, delay_s=0.3)
    info = probe_video(path)
    assert info.start_s == pytest.approx(0.3)
    assert flashes(path) == [7]  # the flash at 1.0 s of the file is 0.7 s after the first picture
    assert beep_onset(path) == pytest.approx(0.7, abs=0.01)  # and so is the beep
    out = timeline_export(path, tmp_path / "t.mp4", fps=10, size=(64, 48))
    assert flashes(out) == [7] and beep_onset(out) == pytest.approx(0.7, abs=0.1)


def test_a_second_variable_rate_clip_is_read_by_time(made):
    path = footage.vfr(made)
    info = probe_video(path)
    assert (info.fps, info.frames, info.variable_rate) == (25.0, 50, True)
    assert flashes(path) == [25]
    assert beep_onset(path) == pytest.approx(1.0, abs=0.01)


def test_a_long_matroska_file_is_probed_and_read_from_the_middle(made):
    path = footage.long_matroska(made, seconds=600, fps=2)
    info = probe_video(path)
    assert (info.frames, info.duration_s, info.fps) == (1200, 600.0, 2.0)
    levels = [float(frame.mean()) for frame in iter_frames(path, 1000, 1004)]
    assert levels == pytest.approx([16 + (i * 7) % 224 for i in range(1000, 1004)], abs=3)


def test_each_container_users_bring_is_read_and_conditioned(made, tmp_path):
    for path in footage.containers(made):
        assert path.suffix in VIDEO_SUFFIXES, path
        assert flashes(path) == [4], path.name
        assert len(list(iter_frames(path))) == 8, path.name
        out = tmp_path / f"{path.suffix[1:]}.mp4"
        assert main(["condition", str(path), "--mode", "canny", "--out", str(out), "-q", "--width", "64"]) == 0


def test_app_and_commands_accept_one_list_and_name_it(tmp_path, capsys):
    assert APP_SUFFIXES is VIDEO_SUFFIXES
    for suffix in (".mts", ".m2ts", ".ts", ".avi", ".m4v", ".mpg", ".3gp", ".webm", ".mkv", ".mov", ".gif"):
        assert suffix in VIDEO_SUFFIXES
    strange = tmp_path / "notes.txt"
    strange.write_text("not a video")
    assert main(["condition", str(strange), "--mode", "canny", "--out", str(tmp_path / "c.mp4")]) == 2
    err = capsys.readouterr().err
    assert ACCEPTED in err and len(err.strip().splitlines()) == 1


def test_edit_and_condition_round_an_odd_height_the_same_way(made, tmp_path, capsys, tiny_folder, tiny_controlnet):
    path = footage.containers(made)[1]
    assert main(["condition", str(path), "--mode", "canny", "--height", "75", "--out", str(tmp_path / "c.mp4"),
                 "-q"]) == 0
    assert "--height 75 is not a multiple of 8: using 72" in capsys.readouterr().err
    assert main(["edit", str(path), "--mode", "canny", "--controlnet", str(tiny_controlnet), "-p", "x", "--model",
                 str(tiny_folder), "--steps", "2", "--height", "75", "--out", str(tmp_path / "e.mp4"), "-q"]) == 0
    assert "--height 75 is not a multiple of 8: using 72" in capsys.readouterr().err
    for out in ("c.mp4", "e.mp4"):
        info = probe_video(tmp_path / out)
        assert (info.width, info.height) == (96, 72)  # 64x48 at height 72: width 96
