"""Reading a source video for editing: the frames, rate, size and time range a user asked for."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterable
from pathlib import Path

import av
import numpy as np
import pytest

from t2vz_desktop.conditions import SourceSpec, open_source
from t2vz_desktop.media import MediaError


def write_video(path: Path, frames: Iterable[np.ndarray], fps: int = 12, audio: bool = False) -> Path:
    """Encode uint8 RGB frames with PyAV directly (H.264 in .mp4, FFV1 RGB in .mkv: lossless)."""
    frames = list(frames)
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        if path.suffix == ".mkv":
            stream = container.add_stream("ffv1", rate=fps)
            stream.pix_fmt = "bgr0"
        else:
            stream = container.add_stream("libx264", rate=fps)
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": "10", "x264-params": "threads=1"}
        stream.width, stream.height = width, height
        sound = container.add_stream("aac", rate=16000) if audio else None
        for i, frame in enumerate(frames):
            packet_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
            packet_frame.pts = i
            container.mux(stream.encode(packet_frame))
        container.mux(stream.encode(None))
        if sound is not None:
            samples = np.zeros((1, 16000 * len(frames) // fps), np.float32)
            audio_frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            audio_frame.sample_rate, audio_frame.pts = 16000, 0
            container.mux(sound.encode(audio_frame))
            container.mux(sound.encode(None))
    return path


def numbered(n: int, width: int = 48, height: int = 32) -> list[np.ndarray]:
    """Frame i is a flat grey of level 10 + 8 i: its index can be read back from any pixel."""
    return [np.full((height, width, 3), 10 + 8 * i, np.uint8) for i in range(n)]


def index_of(frame: np.ndarray) -> int:
    return round((float(frame.mean()) - 10) / 8)


@pytest.fixture(scope="module")
def clip24(tmp_path_factory) -> Path:
    """24 numbered frames at 12 fps, 48x32, with a silent audio track."""
    return write_video(tmp_path_factory.mktemp("src") / "numbered.mp4", numbered(24), fps=12, audio=True)


def test_default_size_keeps_the_aspect_with_a_512_short_side(clip24: Path) -> None:
    clip = open_source(SourceSpec(clip24))
    assert clip.size == (768, 512)
    assert (clip.frames, clip.fps, clip.has_audio) == (24, 12.0, True)
    assert clip.time_range_s == pytest.approx((0.0, 2.0))
    first = next(clip.iter_frames())
    assert first.shape == (512, 768, 3) and first.dtype == np.uint8


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [(64, None, (64, 40)), (None, 40, (64, 40)), (100, 60, (104, 64)), (50, 50, (48, 48))],
)
def test_asked_sizes_are_rounded_to_multiples_of_8(clip24: Path, width, height, expected) -> None:
    clip = open_source(SourceSpec(clip24, width=width, height=height))
    assert clip.size == expected
    assert next(clip.iter_frames()).shape == (expected[1], expected[0], 3)


def test_range_step_and_max_frames_pick_the_right_source_frames(clip24: Path) -> None:
    clip = open_source(SourceSpec(clip24, start_frame=3, end_frame=20, step=4, width=48, height=32))
    assert [index_of(f) for f in clip.iter_frames()] == [3, 7, 11, 15, 19]
    assert clip.fps == 3.0
    # 5 frames at 3 fps from 0.25 s: the audio to keep runs from 0.25 s to 1.9167 s.
    assert clip.time_range_s == pytest.approx((0.25, 0.25 + 5 / 3))

    short = open_source(SourceSpec(clip24, start_frame=3, step=4, max_frames=2, width=48, height=32))
    assert [index_of(f) for f in short.read_all_uint8()] == [3, 7]


def test_target_fps_shows_the_picture_on_screen_at_each_time(clip24: Path) -> None:
    down = open_source(SourceSpec(clip24, target_fps=4, step=5, width=48, height=32))
    assert (down.frames, down.fps) == (8, 4.0)  # 2 s at 4 fps; step is overridden
    assert [index_of(f) for f in down.iter_frames()] == [0, 3, 6, 9, 12, 15, 18, 21]

    up = open_source(SourceSpec(clip24, end_frame=6, target_fps=24, width=48, height=32))
    frames = up.read_all_uint8()
    assert (len(frames), up.fps) == (12, 24.0)  # 0.5 s at 24 fps: each frame shown twice
    # Output frame k is the picture on screen at k / 24 s: source frame floor(k / 2).
    assert [index_of(f) for f in frames] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert up.time_range_s == pytest.approx((0.0, 0.5))


def test_crop_fills_the_frame_and_pad_letterboxes(tmp_path: Path) -> None:
    # 96x64 frames: a white 64x64 square in the middle, red bands 16 px wide at the sides.
    frame = np.zeros((64, 96, 3), np.uint8)
    frame[:, :16] = frame[:, 80:] = (255, 0, 0)
    frame[:, 16:80] = 255
    path = write_video(tmp_path / "wide.mkv", [frame] * 3)

    crop = open_source(SourceSpec(path, width=64, height=64, fit="crop")).read_all_uint8()[0]
    assert crop.min() == 255  # the square fills the frame; the red sides are cut off

    pad = open_source(SourceSpec(path, width=64, height=64, fit="pad")).read_all_uint8()[0]
    # 96x64 scaled to 64x43 and centred: black bands of 10 and 11 rows, red at the sides.
    assert pad[:10].max() == 0 and pad[-10:].max() == 0
    assert pad[32, 32].tolist() == [255, 255, 255]
    assert pad[32, 2].tolist() == [255, 0, 0]


def test_frames_are_streamed_not_held(tmp_path: Path) -> None:
    path = write_video(tmp_path / "long.mkv", numbered(30, 64, 64) * 2)
    clip = open_source(SourceSpec(path, width=256, height=256))
    total = clip.frames * 256 * 256 * 3  # 11.8 MB if every frame were kept
    tracemalloc.start()
    try:
        count = sum(1 for _ in clip.iter_frames())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 60
    assert peak < total / 6


def test_a_png_folder_is_a_source_too(tmp_path: Path) -> None:
    from t2vz_desktop.media import export_video

    export_video(numbered(5), tmp_path / "frames")
    clip = open_source(SourceSpec(tmp_path / "frames", width=48, height=32, step=2))
    assert [index_of(f) for f in clip.iter_frames()] == [0, 2, 4]
    assert clip.fps == 4.0 and clip.notes  # no stored rate: 8 fps assumed, and said so


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"start_frame": 24}, "no frames in the chosen range"),
        ({"start_frame": 30, "end_frame": 40}, "no frames in the chosen range"),
        ({"start_frame": 5, "end_frame": 5}, "not after start frame"),
        ({"start_frame": -1}, "negative"),
        ({"step": 0}, "step 0"),
        ({"max_frames": 0}, "max frames"),
    ],
)
def test_empty_or_bad_ranges_name_the_file(clip24: Path, changes: dict, words: str) -> None:
    with pytest.raises(MediaError, match=words) as caught:
        open_source(SourceSpec(clip24, **changes))
    assert "numbered.mp4" in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("changes", "words"), [({"fit": "stretch"}, "fit"), ({"width": 4}, "width"), ({"target_fps": 0}, "fps")]
)
def test_bad_options_are_value_errors(clip24: Path, changes: dict, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        open_source(SourceSpec(clip24, **changes))


def test_unreadable_files_raise_media_error_naming_them(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x01garbage" * 500)
    text = tmp_path / "notes.txt"
    text.write_text("not a video")
    for path in (broken, text, tmp_path / "missing.mp4"):
        with pytest.raises(MediaError) as caught:
            open_source(SourceSpec(path))
        assert path.name in str(caught.value)
