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


# -- what a newcomer's files broke (each a kind, not one file) -----------------------------------------
def clip(folder, name: str, seconds: float = 2.0, fps: int = 10, start_s: float = 0.0, flash_s: float = 1.0,
         sound_s: float | None = None, **write) -> Path:
    """`seconds` of 64x48 grey at `fps` from clock `start_s`, the flash at clip time flash_s, and
    sound_s seconds of sound (a beep at 1.0 s) from the same start, or none."""
    from fractions import Fraction

    times = [start_s + i / fps for i in range(round(seconds * fps))]
    audio = None if sound_s is None else (start_s, sound_s, 1.0)
    return footage._write(folder / name, footage.flashing(64, 48, times, start_s + flash_s), end_s=start_s + seconds,
                          rate=fps, time_base=write.pop("time_base", Fraction(1, 90_000)), audio=audio, **write)


@pytest.mark.parametrize("codec", ["libx264", "libvpx-vp9"])
def test_a_container_length_that_counts_the_sound_does_not_add_frames(made, tmp_path, codec):
    """Matroska/WebM store the longest stream's length: 2 s of pictures under 3 s of sound."""
    path = clip(made, f"sound_runs_on_{codec}.mkv", sound_s=3.0, codec=codec)
    info = probe_video(path)
    assert (info.frames, info.duration_s) == (20, pytest.approx(2.0, abs=0.01))
    assert len(list(iter_frames(path))) == 20
    assert main(["condition", str(path), "--mode", "canny", "--out", str(tmp_path / "c.mp4"), "-q"]) == 0
    assert probe_video(tmp_path / "c.mp4").frames == 20


def test_a_matroska_clock_that_starts_late_is_not_a_long_video(made):
    path = clip(made, "late_clock.mkv", start_s=5000.0)
    info = probe_video(path)
    assert (info.frames, info.duration_s, info.start_s) == (20, pytest.approx(2.0, abs=0.01), 5000.0)
    assert flashes(path) == [10]


def test_seeking_in_a_transport_stream_whose_clock_wraps_round(made):
    """MPEG-TS timestamps are 33 bits of 1/90000 s: a clock started at 95,440 s wraps 3.7 s in."""
    path = clip(made, "wraps.ts", seconds=10.0, start_s=95_440.0, flash_s=6.0, fmt="mpegts")
    assert flashes(path) == [60]
    late = [frame.mean() > 200 for frame in frames_at(path, [5.0 + k / 10 for k in range(20)])]
    assert late.index(True) == 10 and sum(late) == 1


def test_a_gif_with_uneven_delays_shows_every_picture(tmp_path):
    from fractions import Fraction

    times = [0.0, 0.1, 0.6, 0.8, 1.8]  # the picture at 0.8 s held for 1 s
    frames = footage.flashing(64, 48, times, 0.8)
    path = footage._write(tmp_path / "uneven.gif", frames, end_s=2.1, rate=10, time_base=Fraction(1, 100),
                          codec="gif", pix_fmt="rgb8", fmt="gif")
    info = probe_video(path)
    assert (info.fps, info.frames) == (10.0, 21)
    shown = [float(frame.mean()) for frame in iter_frames(path)]
    assert [round(v) > 200 for v in shown].count(True) == 10  # the flash for its whole second
    assert len(shown) == 21


def test_a_high_speed_clip_keeps_its_rate_and_edit_asks_for_one(made, tmp_path, capsys):
    path = clip(made, "slowmo.mp4", seconds=1.0, fps=300, flash_s=0.5, fmt="mp4")
    info = probe_video(path)
    assert (info.fps, info.frames) == (300.0, 300)
    assert flashes(path) == [150]
    args = ["edit", str(path), "--mode", "canny", "-p", "x", "--model", "demo", "--out", str(tmp_path / "e.mp4")]
    assert main(args) == 2
    assert "plays at 300 fps" in capsys.readouterr().err and not (tmp_path / "e.mp4").exists()


@pytest.mark.parametrize(("flags", "words"), [
    (["--fps", "1e9"], "at most 240 fps"),
    (["--start-time", "1e308"], "from 0 to 10,000,000"),
])
def test_out_of_range_times_and_rates_are_refused_before_reading(made, tmp_path, capsys, flags, words):
    path = footage.containers(made)[1]
    assert main(["condition", str(path), "--mode", "canny", "--out", str(tmp_path / "c.mp4"), *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and "\n" not in err


def test_a_very_long_thin_frame_asks_for_a_size_instead_of_failing_the_encoder(tmp_path, capsys):
    from fractions import Fraction

    thin = [(i / 8, footage.picture(2048, 16)) for i in range(4)]
    path = footage._write(tmp_path / "thin.mp4", thin, end_s=0.5, rate=8, time_base=Fraction(1, 8))
    assert main(["condition", str(path), "--mode", "canny", "--out", str(tmp_path / "c.mp4")]) == 2
    assert "give --width or --height" in capsys.readouterr().err
    assert main(["condition", str(path), "--mode", "canny", "--height", "16", "--out", str(tmp_path / "c.mp4"),
                 "-q"]) == 0


def test_a_file_cut_short_is_refused_alike_by_every_command(made, tmp_path, capsys, tiny_folder, tiny_controlnet):
    whole = clip(made, "whole.mp4", seconds=4.0, container_options={"movflags": "+faststart"})
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 9 // 10])  # the index (moov) promises 40 frames; the data stops
    for command in (["condition", str(cut), "--mode", "canny"],
                    ["edit", str(cut), "--mode", "canny", "--controlnet", str(tiny_controlnet), "-p", "x",
                     "--model", str(tiny_folder), "--steps", "2", "--width", "32", "--height", "32"]):
        assert main([*command, "--out", str(tmp_path / "o.mp4"), "-q"]) == 2
        assert "broken video file" in capsys.readouterr().err
        assert not (tmp_path / "o.mp4").exists()
