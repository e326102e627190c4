"""Every file and value of ../shared/media-zoo/MANIFEST.md, through each way the product reads
footage: the reader, `condition`, `edit` on tiny weights (its sound checked by the beep's onset),
and the timeline export. The refusals (audio only, cover art, damaged) are in test_media_errors.py
and the app's import in test_app_import.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from t2vz_desktop.app.project import MediaItem, Project, new_id
from t2vz_desktop.app.render import RenderOptions, render_timeline
from t2vz_desktop.cli import main
from t2vz_desktop.media import audio_blocks, frames_at, iter_frames, probe_video

RATE = 48_000


def beep_onset(path: Path) -> float:
    """Seconds to the first sample louder than 0.1 (the zoo's beeps are 0.5): the sound's sync."""
    sound = np.concatenate(list(audio_blocks(path, rate=RATE)), axis=1)
    loud = np.flatnonzero(np.abs(sound).max(axis=0) > 0.1)
    assert loud.size, f"{path} is silent"
    return loud[0] / RATE


def flashes(path: Path) -> list[int]:
    """Frames that are all but white: the zoo's flash."""
    return [i for i, frame in enumerate(iter_frames(path)) if frame.mean() > 200]


def edit(source: Path, out: Path, model: Path, net: Path, *flags: str) -> Path:
    """`t2vz edit` on tiny weights: the pictures are noise, the timing and sound are the test."""
    args = ["edit", str(source), "--mode", "canny", "--controlnet", str(net), "-p", "x", "--model", str(model),
            "--steps", "2", "--width", "32", "--height", "32", "--out", str(out), "-q", *flags]
    assert main(args) == 0
    return out


def timeline_export(source: Path, out: Path, fps: float, size=(64, 64)) -> Path:
    """The source alone on a project's track at `fps`, rendered as the app's export does."""
    info = probe_video(source)
    project = Project.new(*size, fps=fps)
    item = project.add_media(MediaItem(new_id(), str(source), source.name, info.width, info.height, info.fps,
                                       info.frames, info.has_audio))
    project.add_clip(project.tracks[-1].id, item.id, 0)
    return render_timeline(project, out, RenderOptions(*size, fps=fps))


# -- phone_rotate90.mp4: portrait, the red bar down the left once displayed -------------------------
def test_portrait_phone_clip_is_read_upright(media_zoo):
    path = media_zoo / "phone_rotate90.mp4"
    info = probe_video(path)
    assert (info.width, info.height, info.rotation) == (64, 96, 90)
    frame = next(iter_frames(path))
    assert frame.shape == (96, 64, 3)
    red = np.flatnonzero((frame[..., 0] > 200) & (frame[..., 1] < 60)).reshape(-1)
    columns = sorted(set((red % 64).tolist()))
    assert columns == list(range(12))  # columns 0-11, every row
    assert frame[:, 12:, 0].max() < 200


def test_portrait_phone_clip_conditions_and_edits_portrait(media_zoo, tmp_path, tiny_folder, tiny_controlnet):
    path = media_zoo / "phone_rotate90.mp4"
    assert main(["condition", str(path), "--mode", "canny", "--out", str(tmp_path / "c.mp4"), "-q"]) == 0
    cond = probe_video(tmp_path / "c.mp4")
    assert (cond.width, cond.height) == (512, 768)
    args = ["edit", str(path), "--mode", "canny", "--controlnet", str(tiny_controlnet), "-p", "x", "--model",
            str(tiny_folder), "--steps", "2", "--height", "96", "--out", str(tmp_path / "e.mp4"), "-q"]
    assert main(args) == 0
    edited = probe_video(tmp_path / "e.mp4")
    assert (edited.width, edited.height) == (64, 96)


# -- vfr_flash_beep.mp4: 10 fps then 30 fps; flash and beep at 1.0 s --------------------------------
def test_variable_frame_rate_is_read_by_time(media_zoo):
    path = media_zoo / "vfr_flash_beep.mp4"
    info = probe_video(path)
    assert (info.fps, info.frames, info.duration_s, info.variable_rate) == (30.0, 60, 2.0, True)
    assert flashes(path) == [30]
    at_30 = [frame.mean() > 200 for frame in frames_at(path, [k / 30 for k in range(60)])]
    assert at_30.index(True) == 30 and sum(at_30) == 1
    assert beep_onset(path) == pytest.approx(1.0, abs=0.01)


def test_variable_frame_rate_condition_puts_the_flash_on_frame_30(media_zoo, tmp_path):
    out = tmp_path / "c.mp4"
    src = media_zoo / "vfr_flash_beep.mp4"
    assert main(["condition", str(src), "--mode", "canny", "--fps", "30", "--width", "64", "--height", "64",
                 "--out", str(out), "-q"]) == 0
    info = probe_video(out)
    assert (info.frames, info.fps) == (60, 30.0)
    # Canny of a white frame is black, like its grey neighbours: compare the source range instead.
    half = tmp_path / "half.mp4"
    assert main(["condition", str(src), "--mode", "canny", "--fps", "30", "--start-time", "0.5",
                 "--out", str(half), "-q", "--width", "64", "--height", "64"]) == 0
    assert probe_video(half).frames == 45


def test_variable_frame_rate_edit_keeps_the_beep_on_the_flash(media_zoo, tmp_path, tiny_folder, tiny_controlnet):
    out = edit(media_zoo / "vfr_flash_beep.mp4", tmp_path / "e.mp4", tiny_folder, tiny_controlnet, "--source-fps", "30")
    info = probe_video(out)
    assert (info.frames, info.fps) == (60, 30.0)
    assert beep_onset(out) == pytest.approx(30 / 30, abs=1 / 30)  # the flash was output frame 30


def test_variable_frame_rate_timeline_export_keeps_sync(media_zoo, tmp_path):
    out = timeline_export(media_zoo / "vfr_flash_beep.mp4", tmp_path / "t.mp4", fps=30)
    assert probe_video(out).frames == 60
    assert flashes(out) == [30]
    assert beep_onset(out) == pytest.approx(1.0, abs=1 / 30)


# -- audio_delayed_0p5s.mp4: sound starts 0.5 s after the pictures ---------------------------------
def test_late_audio_keeps_its_lead_in_through_edit_and_export(media_zoo, tmp_path, tiny_folder, tiny_controlnet):
    src = media_zoo / "audio_delayed_0p5s.mp4"
    assert flashes(src) == [10]
    edited = edit(src, tmp_path / "e.mp4", tiny_folder, tiny_controlnet)
    exported = timeline_export(src, tmp_path / "t.mp4", fps=10)
    assert flashes(exported) == [10]
    for out in (edited, exported):
        assert beep_onset(out) == pytest.approx(1.0, abs=0.03)
        lead_in = np.concatenate(list(audio_blocks(out, 0.0, 0.5, RATE)), axis=1)
        assert np.abs(lead_in).max() < 0.02  # silence, not the beep moved forward


def test_a_range_by_time_cuts_the_sound_with_the_pictures(media_zoo, tmp_path, tiny_folder, tiny_controlnet):
    out = edit(media_zoo / "audio_delayed_0p5s.mp4", tmp_path / "e.mp4", tiny_folder, tiny_controlnet,
               "--start-time", "0.7", "--end-time", "1.5")
    assert probe_video(out).frames == 8
    assert beep_onset(out) == pytest.approx(0.3, abs=0.03)


# -- colour ---------------------------------------------------------------------------------------
def test_ten_bit_hevc_converts_as_ffmpeg_does(media_zoo):
    frame = next(iter_frames(media_zoo / "hevc_10bit.mp4"))
    levels = sorted(set(frame.reshape(-1).tolist()))
    assert len(levels) == 2 and abs(levels[0] - 128) <= 1 and abs(levels[1] - 255) <= 1


def test_full_range_keeps_black_white_and_grey(media_zoo):
    frame = next(iter_frames(media_zoo / "fullrange_yuvj420p.mp4"))
    assert sorted(set(frame.reshape(-1).tolist())) == [0, 128, 255]


# -- one_frame_10s.mp4: one picture shown for 10 s --------------------------------------------------
def test_a_ten_second_still_lasts_ten_seconds(media_zoo, tmp_path, capsys):
    path = media_zoo / "one_frame_10s.mp4"
    info = probe_video(path)
    assert (info.frames, info.duration_s) == (1, 10.0)
    assert len(list(frames_at(path, [k / 8 for k in range(200)]))) == 80
    out = timeline_export(path, tmp_path / "t.mp4", fps=8)
    assert probe_video(out).frames == 80
    assert main(["eval", str(path), "--no-plot"]) == 2
    assert "need 2 or more" in capsys.readouterr().err


# -- transparent_moving.gif -----------------------------------------------------------------------
def test_transparent_gif_is_laid_on_white_without_trails(media_zoo):
    frames = list(iter_frames(media_zoo / "transparent_moving.gif"))
    assert len(frames) == 4
    lefts = []
    for frame in frames:
        red = (frame[..., 0] > 200) & (frame[..., 1] < 60)
        lefts.append(int(np.flatnonzero(red.any(axis=0))[0]))
        assert (frame[~red] == 255).all()  # white, and nothing left where the square was
    assert lefts == [4, 18, 32, 46]


# -- sound that export must convert -----------------------------------------------------------------
@pytest.mark.parametrize("name", ["audio_5p1side.mp4", "audio_22222hz_pcm.mov"])
@pytest.mark.parametrize("suffix", [".mp4", ".webm"])
def test_odd_sound_is_kept_by_the_timeline_export(media_zoo, tmp_path, name, suffix):
    out = timeline_export(media_zoo / name, tmp_path / f"t{suffix}", fps=8)
    sound = np.concatenate(list(audio_blocks(out, rate=RATE)), axis=1)
    assert sound.shape[0] == 2 and np.sqrt(np.mean(sound**2)) > 0.01  # downmixed, not silent


@pytest.mark.parametrize("name", ["audio_5p1side.mp4", "audio_22222hz_pcm.mov"])
def test_odd_sound_is_kept_by_edit(media_zoo, tmp_path, tiny_folder, tiny_controlnet, name):
    out = edit(media_zoo / name, tmp_path / "e.mp4", tiny_folder, tiny_controlnet)
    info = probe_video(out)
    assert info.has_audio and info.audio_rate in (44100, 48000)
    sound = np.concatenate(list(audio_blocks(out, rate=RATE)), axis=1)
    assert np.sqrt(np.mean(sound**2)) > 0.01


# -- 1080p_3min.mkv: no frame count in the header --------------------------------------------------
def test_long_matroska_is_probed_from_its_header(media_zoo, monkeypatch):
    import t2vz_desktop.media.reader as reader

    decoded = []
    original = reader._decoded

    def counting(container, stream, path):
        for frame in original(container, stream, path):
            decoded.append(frame)
            yield frame

    monkeypatch.setattr(reader, "_decoded", counting)
    info = probe_video(media_zoo / "1080p_3min.mkv")
    assert (info.width, info.height, info.fps, info.frames, info.duration_s) == (1920, 1080, 30.0, 5400, 180.0)
    assert len(decoded) == 1  # the first picture only, for its orientation
    decoded.clear()
    middle = list(iter_frames(media_zoo / "1080p_3min.mkv", 2700, 2708))
    assert len(middle) == 8 and len(decoded) < 2700  # it seeks to a keyframe, not decodes from 0
