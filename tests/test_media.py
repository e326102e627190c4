"""The media layer: exports that read back right, leave nothing behind on failure, keep the recipe."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest

from t2vz_desktop.media import (
    ExportOptions,
    MediaError,
    export_video,
    frames_at,
    iter_frames,
    probe_video,
    read_recipe,
)

RED, BLUE = (255, 0, 0), (0, 0, 255)
RECIPE = json.dumps({"prompt": "a red fox in the snow, café ✨", "seed": 7}, ensure_ascii=False)
TARGETS = {"mp4": "clip.mp4", "webm": "clip.webm", "gif": "clip.gif", "png": "frames/"}


def red_blue(n: int = 6, width: int = 48, height: int = 40) -> Iterator[np.ndarray]:
    """Left half red, right half blue; a grey bar at the bottom whose level encodes the index."""
    for i in range(n):
        frame = np.zeros((height, width, 3), np.uint8)
        frame[:, : width // 2] = RED
        frame[:, width // 2 :] = BLUE
        frame[-8:] = 20 + 20 * i
        yield frame


def decode(path: Path) -> list[np.ndarray]:
    """Decode with PyAV directly, so the check does not rely on our reader."""
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def index_of(frame: np.ndarray) -> int:
    return round((frame[-4, :].mean() - 20) / 20)


def leftovers(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


@pytest.mark.parametrize("fmt", ["mp4", "webm", "gif", "png"])
def test_round_trip_keeps_frames_size_fps_colours_and_recipe(tmp_path: Path, fmt: str) -> None:
    report = export_video(red_blue(), tmp_path / TARGETS[fmt], ExportOptions(fps=8, metadata=RECIPE))

    assert (report.format, report.frames, report.width, report.height) == (fmt, 6, 48, 40)
    frames = list(iter_frames(report.path)) if fmt == "png" else decode(report.path)
    assert len(frames) == 6 and frames[0].shape == (40, 48, 3)
    for i, frame in enumerate(frames):
        assert np.abs(frame[10, 5].astype(int) - RED).max() < 24
        assert np.abs(frame[10, -5].astype(int) - BLUE).max() < 24
        assert index_of(frame) == i
    if fmt == "png":
        assert all(np.array_equal(a, b) for a, b in zip(frames, red_blue()))
    info = probe_video(report.path)
    assert info.frames == 6 and (info.width, info.height) == (48, 40)
    if fmt != "png":
        assert info.fps == pytest.approx(report.fps)
    assert report.sidecar is not None and report.sidecar.read_text(encoding="utf-8") == RECIPE
    assert read_recipe(report.path) == RECIPE


@pytest.mark.parametrize("fmt", ["mp4", "webm"])
def test_recipe_is_embedded_in_mp4_and_webm(tmp_path: Path, fmt: str) -> None:
    report = export_video(red_blue(), tmp_path / TARGETS[fmt], ExportOptions(metadata=RECIPE))
    report.sidecar.unlink()  # only the container's copy is left

    assert read_recipe(report.path) == RECIPE
    assert probe_video(report.path).metadata["comment"] == RECIPE


def test_no_recipe_means_no_sidecar(tmp_path: Path) -> None:
    report = export_video(red_blue(), tmp_path / "clip.gif")

    assert report.sidecar is None and read_recipe(report.path) is None
    assert leftovers(tmp_path) == ["clip.gif"]


def numbered(n: int) -> Iterator[np.ndarray]:
    """Frame k is grey level 4k, so a read-back says which picture it shows."""
    return (np.full((16, 16, 3), 4 * k, np.uint8) for k in range(n))


@pytest.mark.parametrize("fps,n", [(8, 8), (30, 30), (7, 21), (24, 48), (23.976, 24), (50, 10)])
def test_a_gif_lasts_as_long_as_its_clip(tmp_path: Path, fps: float, n: int) -> None:
    """GIF delays are whole 1/100 s: every frame got the rounded delay, so 30 fps (3.33 cs) played
    as 33.3 fps, 0.90 s instead of 1.00 s, and 8 fps 0.96 s. The delays now alternate (3, 4, 3)
    on the clip's clock: the length is right within 1/100 s and read back at the clip's rate
    each picture shows once."""
    report = export_video(numbered(n), tmp_path / "clip.gif", ExportOptions(fps=fps))
    assert report.fps == pytest.approx(fps, abs=1e-3) and report.notes == []
    with av.open(str(report.path)) as box:
        delays = [p.duration for p in box.demux(video=0) if p.size]
    assert max(delays) - min(delays) <= 1 and abs(sum(delays) / 100 - n / fps) <= 0.0101, delays
    info = probe_video(report.path)
    assert info.frames == n and info.fps == pytest.approx(fps, rel=0.02)
    shown = [int(f[0, 0, 0]) // 4 for f in frames_at(report.path, [k / fps for k in range(n)])]
    assert shown == list(range(n))


@pytest.mark.parametrize("colours", [[0, 0, 255, 0, 0, 0], [(255, 0, 0), (0, 0, 255), (0, 255, 0), (0, 0, 0)] * 2],
                         ids=["a white flash between black", "a colour cycle"])
def test_every_gif_frame_is_stored_as_drawn(tmp_path: Path, colours) -> None:
    """Found by a newcomer: after a white flash every frame stayed white, and a clip after a black
    gap on the timeline never appeared in its GIF. Each frame has its own palette, and the
    encoder stored only what changed by palette index, which is not what changed in colour."""
    frames = [np.full((16, 16, 3), c, np.uint8) for c in colours]
    export_video(iter(frames), tmp_path / "clip.gif", ExportOptions(fps=8))
    back = list(iter_frames(tmp_path / "clip.gif"))
    assert len(back) == len(frames) and all(np.array_equal(a, b) for a, b in zip(back, frames))


def test_a_gif_faster_than_browsers_play_says_so(tmp_path: Path) -> None:
    report = export_video(numbered(12), tmp_path / "clip.gif", ExportOptions(fps=60))
    assert report.fps == 50 and any("stored as 50 fps, so it plays 1.20x longer" in n for n in report.notes)


def test_odd_sized_mp4_is_padded_with_its_edge(tmp_path: Path) -> None:
    report = export_video(red_blue(width=63, height=33), tmp_path / "odd.mp4")

    assert (report.width, report.height) == (64, 34)
    assert "padded 63x33 to 64x34 for yuv420p" in report.notes
    frame = decode(report.path)[0]
    assert frame.shape == (34, 64, 3)
    assert np.abs(frame[10, -1].astype(int) - BLUE).max() < 24  # the added column repeats blue


def test_upscale_doubles_the_size(tmp_path: Path) -> None:
    report = export_video(red_blue(), tmp_path / "big.mp4", ExportOptions(upscale=2))

    assert (report.width, report.height) == (96, 80)
    assert decode(report.path)[0].shape == (80, 96, 3)


@pytest.mark.parametrize("fmt", ["mp4", "webm", "gif", "png"])
def test_cancel_midway_leaves_nothing(tmp_path: Path, fmt: str) -> None:
    class Cancelled(Exception):
        pass

    def cancelled_after_three() -> Iterator[np.ndarray]:
        frames = red_blue()
        for _ in range(3):
            yield next(frames)
        raise Cancelled

    with pytest.raises(Cancelled):
        export_video(cancelled_after_three(), tmp_path / TARGETS[fmt], ExportOptions(metadata=RECIPE))
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("fmt", ["mp4", "png"])
def test_frames_are_streamed_not_collected(tmp_path: Path, fmt: str) -> None:
    """A generator that reuses one buffer, as an engine may: collecting would repeat the last frame."""
    written_before_last = []

    def one_buffer() -> Iterator[np.ndarray]:
        buffer = np.zeros((40, 48, 3), np.uint8)
        for i, frame in enumerate(red_blue(8)):
            if i == 7 and fmt == "png":
                written_before_last.extend(p.name for p in tmp_path.glob(".frames*/*.png"))
            buffer[:] = frame
            yield buffer

    report = export_video(one_buffer(), tmp_path / TARGETS[fmt])

    assert [index_of(f) for f in iter_frames(report.path)] == list(range(8))
    if fmt == "png":
        assert len(written_before_last) == 7


def test_a_frame_of_another_size_fails_cleanly(tmp_path: Path) -> None:
    frames = [*red_blue(2), np.zeros((10, 10, 3), np.uint8)]

    with pytest.raises(ValueError, match="frame 2 is 10x10, expected 48x40"):
        export_video(frames, tmp_path / "clip.mp4")
    assert leftovers(tmp_path) == []


def test_exporting_again_replaces_the_old_export(tmp_path: Path) -> None:
    export_video(red_blue(6), tmp_path / "clip.mp4")
    export_video(red_blue(6), tmp_path / "frames", ExportOptions(metadata=RECIPE))

    export_video(red_blue(3), tmp_path / "clip.mp4")
    export_video(red_blue(3), tmp_path / "frames")

    assert probe_video(tmp_path / "clip.mp4").frames == 3
    assert leftovers(tmp_path / "frames") == [f"frame_0000{i}.png" for i in range(3)]
    assert leftovers(tmp_path) == ["clip.mp4", "frames"]


def test_empty_iterator_is_an_error_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no frames to export"):
        export_video(iter([]), tmp_path / "clip.mp4", ExportOptions(metadata=RECIPE))
    assert leftovers(tmp_path) == []


def test_format_comes_from_the_suffix_or_means_a_png_folder(tmp_path: Path) -> None:
    assert export_video(red_blue(2), tmp_path / "plain").format == "png"
    forced = export_video(red_blue(2), tmp_path / "forced.bin", ExportOptions(format="gif"))
    assert forced.format == "gif"
    with pytest.raises(ValueError, match="unknown format 'avi'"):
        export_video(red_blue(2), tmp_path / "clip.avi")
    assert leftovers(tmp_path) == ["forced.bin", "plain"]


def test_missing_folder_fails_before_any_frame_is_made(tmp_path: Path) -> None:
    def never() -> Iterator[np.ndarray]:
        raise AssertionError("a frame was requested")
        yield

    with pytest.raises(FileNotFoundError, match="does not exist"):
        export_video(never(), tmp_path / "missing" / "clip.mp4")
    assert leftovers(tmp_path) == []


def test_unwritable_folder_fails_before_encoding(tmp_path: Path) -> None:
    def never() -> Iterator[np.ndarray]:
        raise AssertionError("a frame was requested")
        yield

    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # root may write into any folder whatever its mode: use a read-only file system instead
        locked = Path("/proc")
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
    try:
        with pytest.raises(PermissionError, match="not writable"):
            export_video(never(), locked / "clip.mp4")
        assert not (locked / "clip.mp4").exists()
    finally:
        if locked != Path("/proc"):
            locked.chmod(0o700)


def test_png_export_does_not_delete_a_folder_of_other_files(tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "holiday.jpg").write_bytes(b"mine")

    with pytest.raises(FileExistsError, match="holiday.jpg"):
        export_video(red_blue(), tmp_path / "photos")
    assert leftovers(tmp_path / "photos") == ["holiday.jpg"]


def test_reader_rejects_a_text_file_named_mp4(tmp_path: Path) -> None:
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is not a video\n")

    with pytest.raises(MediaError, match=r"not a video file: .*notes\.mp4 \("):
        probe_video(fake)
    with pytest.raises(MediaError, match="notes.mp4"):
        next(iter_frames(fake))
    with pytest.raises(MediaError, match="no such file"):
        probe_video(tmp_path / "absent.mp4")
    assert read_recipe(fake) is None


@pytest.mark.parametrize("target", ["clip.mp4", "frames/"])
def test_iter_frames_start_stop_step(tmp_path: Path, target: str) -> None:
    report = export_video(red_blue(10), tmp_path / target)

    picked = [index_of(f) for f in iter_frames(report.path, start=1, stop=8, step=3)]
    assert picked == [1, 4, 7]
    assert [index_of(f) for f in iter_frames(report.path, start=7)] == [7, 8, 9]
    with pytest.raises(ValueError):
        next(iter_frames(report.path, step=0))


def test_iter_frames_far_into_a_file_seeks_and_gives_the_same_frames(tmp_path):
    import av

    path = tmp_path / "long.mp4"
    c = av.open(str(path), "w")
    v = c.add_stream("libx264", rate=25)
    v.width = v.height = 32
    v.pix_fmt = "yuv420p"
    v.options = {"g": "25", "crf": "0"}
    for i in range(160):
        f = av.VideoFrame.from_ndarray(np.full((32, 32, 3), i, np.uint8), format="rgb24")
        f.pts = i
        for p in v.encode(f):
            c.mux(p)
    for p in v.encode(None):
        c.mux(p)
    c.close()
    everything = list(iter_frames(path))
    for start in (60, 101, 159):
        part = list(iter_frames(path, start, start + 4, 2))
        assert all(np.array_equal(a, b) for a, b in zip(part, everything[start : start + 4 : 2]))
        assert len(part) == len(everything[start : start + 4 : 2])


def test_sound_at_a_rate_aac_cannot_store_is_resampled_for_mp4(media_zoo, tmp_path):
    """audio_22222hz_pcm.mov: the MP4 export failed with avcodec_open2("aac") returned 22, after
    the whole denoising; the MANIFEST asks for 44.1 or 48 kHz and success."""
    import av
    import numpy as np

    from t2vz_desktop.media import AudioClip, ExportOptions, export_video

    out = tmp_path / "with-sound.mp4"
    frames = (np.full((48, 64, 3), 30 * i, np.uint8) for i in range(8))
    export_video(frames, out, ExportOptions(fps=8, audio=AudioClip(media_zoo / "audio_22222hz_pcm.mov", 0.0, 1.0)))
    with av.open(str(out)) as box:
        sound = box.streams.audio[0]
        assert sound.codec_context.name == "aac" and sound.rate == 44100
        samples = sum(frame.samples for frame in box.decode(sound))
    assert abs(samples - 44100) < 2048  # the second asked for (AAC frames are 1024 samples)
