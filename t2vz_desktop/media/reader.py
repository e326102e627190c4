"""Read videos (any container FFmpeg knows) and PNG-sequence folders as uint8 RGB frames."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np

PNG_FRAME = re.compile(r"frame_(\d+)\.png$")


class MediaError(ValueError):
    """A file that cannot be read as a video; the message names the file and what is wrong."""


@dataclass
class VideoInfo:
    path: Path
    width: int
    height: int
    fps: float  # 0.0 when unknown (a PNG folder stores no frame rate)
    frames: int
    duration_s: float
    has_audio: bool = False
    metadata: dict[str, str] = field(default_factory=dict)  # container tags, keys lower-cased


def probe_video(path: str | Path) -> VideoInfo:
    path = Path(path)
    if path.is_dir():
        files = png_frames(path)
        height, width = _read_png(files[0]).shape[:2]
        return VideoInfo(path, width, height, 0.0, len(files), 0.0)
    with _open(path) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        # Matroska/WebM keep no frame count, and a count from the duration can be off by one.
        frames = stream.frames or sum(1 for _ in _decoded(container, path))
        if container.duration:
            duration = container.duration / av.time_base
        else:
            duration = frames / fps if fps else 0.0
        return VideoInfo(
            path,
            stream.codec_context.width,
            stream.codec_context.height,
            fps,
            frames,
            duration,
            has_audio=bool(container.streams.audio),
            metadata=_lower_keys(container.metadata),
        )


def read_metadata(path: str | Path) -> dict[str, str]:
    """The container's tags with lower-cased keys (Matroska upper-cases them); no decoding."""
    with _open(Path(path)) as container:
        return _lower_keys(container.metadata)


def iter_frames(
    path: str | Path, start: int = 0, stop: int | None = None, step: int = 1
) -> Iterator[np.ndarray]:
    """Yield frames start, start+step, ... before stop as uint8 RGB (H, W, 3), one at a time."""
    if start < 0 or step < 1 or (stop is not None and stop < start):
        raise ValueError(f"bad frame range start={start} stop={stop} step={step}")
    path = Path(path)
    if path.is_dir():
        for file in png_frames(path)[start:stop:step]:
            yield _read_png(file)
        return
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        numbered = _seek_numbered(container, path, start) or enumerate(_decoded(container, path))
        for i, frame in numbered:
            if stop is not None and i >= stop:
                break  # stop demuxing early: the rest of a long file is never read
            if i >= start and (i - start) % step == 0:
                yield frame.to_ndarray(format="rgb24")


SEEK_AFTER_FRAMES = 48  # closer starts decode from the beginning: a seek would not pay


def _seek_numbered(container, path: Path, start: int):
    """(index, frame) pairs from the keyframe before `start`, numbering frames by their time;
    None where that cannot be trusted (no frame rate or timestamps, or the seek overshot), and
    then the caller decodes from the beginning."""
    stream = container.streams.video[0]
    rate = stream.average_rate
    if start < SEEK_AFTER_FRAMES or not rate or stream.time_base is None:
        return None
    origin = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
    target = origin + start / float(rate)
    try:
        container.seek(int(target / stream.time_base), stream=stream, backward=True, any_frame=False)
        frames = _decoded(container, path)
        first = next(frames, None)
    except av.FFmpegError:
        first = None
    index = None if first is None or first.pts is None else round((float(first.pts * stream.time_base) - origin) * float(rate))
    if index is None or index > start:
        container.seek(0, stream=stream)  # back to the start, and number frames by counting
        return None

    def numbered():
        yield index, first
        for frame in frames:
            if frame.pts is None:
                raise MediaError(f"frame without a timestamp after seeking in {path}")
            yield round((float(frame.pts * stream.time_base) - origin) * float(rate)), frame

    return numbered()


def png_frames(folder: Path) -> list[Path]:
    """The folder's frame_NNNNN.png files in frame order (numeric, so frame_100000 sorts last)."""
    numbered = [(int(m.group(1)), p) for p in folder.iterdir() if (m := PNG_FRAME.match(p.name))]
    if not numbered:
        raise MediaError(f"no frame_*.png files in folder: {folder}")
    return [p for _, p in sorted(numbered)]


def _read_png(file: Path) -> np.ndarray:
    # imdecode from bytes, because cv2.imread cannot open non-ASCII paths on Windows.
    bgr = cv2.imdecode(np.fromfile(file, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise MediaError(f"not a PNG image: {file}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@contextmanager
def _open(path: Path) -> Iterator[av.container.InputContainer]:
    if not path.is_file():
        raise MediaError(f"{'not a regular file' if path.exists() else 'no such file'}: {path}")
    try:
        container = av.open(str(path))
    except av.FFmpegError as e:
        raise MediaError(f"not a video file: {path} ({e.strerror or type(e).__name__})") from None
    except OSError as e:  # a FIFO, a permission, a symlink loop: the OS said no before FFmpeg could
        raise MediaError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        _check_streams(container, path)
        yield container
    except av.FFmpegError as e:  # the header read fine, the data does not
        raise MediaError(f"broken video file: {path} ({e.strerror or type(e).__name__})") from None
    finally:
        container.close()


def _check_streams(container: av.container.InputContainer, path: Path) -> None:
    """Refuse what opens but holds no usable video: raises MediaError naming the file."""
    videos = container.streams.video
    if not videos:
        raise MediaError(f"no video stream in {path}")
    # An MP4's cover art is a video stream holding one picture (disposition attached_pic):
    # taking it as video gives a one-frame 90000 fps clip.
    if all(s.disposition & av.stream.Disposition.attached_pic for s in videos):
        raise MediaError(f"only cover art, no video in {path}")
    codec = videos[0].codec_context
    # PyAV leaves codec_context None where FFmpeg has no decoder for the sample description
    # (a damaged stsd box); width/height 0 is the same damage in another place.
    if codec is None or codec.width <= 0 or codec.height <= 0:
        raise MediaError(f"broken video file: {path} (no decoder for its video stream)")


def _decoded(container: av.container.InputContainer, path: Path) -> Iterator[av.VideoFrame]:
    try:
        yield from container.decode(video=0)
    except av.FFmpegError as e:
        raise MediaError(f"broken video file: {path} ({e.strerror})") from None


def _lower_keys(tags: dict[str, str]) -> dict[str, str]:
    return {key.lower(): value for key, value in tags.items()}
