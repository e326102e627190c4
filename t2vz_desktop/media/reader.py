"""The one way into a media file: probe it, and read its pictures and its sound on one clock.

Every reader in the product goes through this module: the app's import, thumbnails, monitor and
timeline export, the conditions, edit's source and its sound, eval. The clock is presentation
time in seconds, counted from the video stream's start (its first picture's display time, after
edit lists and B-frame reordering, which FFmpeg's demuxers and decoders apply): a clip read at
`fps` shows at output frame k the picture on screen at k / fps (so a variable-frame-rate phone
clip keeps its timing), and its audio sample n at rate R plays at n / R on the same clock (so a
stream that starts late, or a camcorder clock that starts at 1.4 s, stays in sync).

Pictures come out as the file is meant to be seen: turned by the display matrix (the side data
phones write for portrait video; FFmpeg's command line does the same), 8- or 10-bit YUV converted
as the command line converts it (`to_rgb`), transparency laid on white.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np
from av.video.reformatter import Interpolation

PNG_FRAME = re.compile(r"frame_(\d+)\.png$")
# One list for the app's import and every command: what FFmpeg reads that users bring.
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".mts", ".m2ts", ".ts", ".mpg", ".mpeg",
                  ".3gp", ".gif")
ACCEPTED = "MP4, MOV, M4V, MKV, WebM, AVI, MTS/M2TS/TS, MPG, 3GP or GIF"
CENTISECOND_FORMATS = ("gif", "apng")
INDEXED_FORMATS = ("mov", "avi")  # whose headers give each stream's exact length (FFmpeg's names)
SCAN_TAIL_S = 20.0  # how much of a file's end is demuxed to find where its pictures end
MAX_GUESSED_FPS = 240.0  # a guessed rate above this is a timestamp unit (1/1000, 1/90000), not a rate
MAX_SOURCE_FPS = 1000.0  # a phone's 960 fps slow motion stays a rate
SEEK_AFTER_S = 2.0  # a start closer than this decodes from the beginning: a seek would not pay
# As the FFmpeg command line converts YUV to RGB: without these swscale rounds 8-bit grey 128 to
# 126 and 10-bit white to 253 (measured on the media zoo's files).
SWS_FLAGS = Interpolation.BICUBIC | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT


class MediaError(ValueError):
    """A file that cannot be read as a video; the message names the file and what is wrong."""


@dataclass
class VideoInfo:
    """What a file holds, from its headers and its first picture (never a whole decode).

    width/height are as displayed (a portrait phone clip stored 1920x1080 with rotation 90 is
    1080x1920). fps is the stream's nominal rate: for a variable-frame-rate clip the rate all its
    timestamps fit (30 for a phone that slowed to 10 in the dark), 0.0 where none is known (a
    PNG folder). frames = the pictures a reader gives at fps over duration_s. start_s is where
    the clock's zero lies in the file's own timestamps (a camcorder's 1.4 s).
    """

    path: Path
    width: int
    height: int
    fps: float
    frames: int
    duration_s: float
    has_audio: bool = False
    metadata: dict[str, str] = field(default_factory=dict)  # container tags, keys lower-cased
    rotation: int = 0  # degrees counter-clockwise the display matrix turns the stored picture
    variable_rate: bool = False  # the average rate differs from the nominal one
    start_s: float = 0.0
    audio_rate: int = 0  # Hz of the first audio stream, 0 without one
    audio_channels: int = 0


# -- probing ------------------------------------------------------------------------------------
def probe_video(path: str | Path) -> VideoInfo:
    """Size, rate, length and streams of a video file or frame_*.png folder.

    Reads the headers and decodes the first picture (for its orientation, and to refuse a file
    whose data is broken behind a good header); a three-hour file costs what a short one does.
    Raises MediaError naming the file.
    """
    path = Path(path)
    if path.is_dir():
        files = png_frames(path)
        height, width = _read_png(files[0]).shape[:2]
        return VideoInfo(path, width, height, 0.0, len(files), 0.0)
    with _open(path) as container:
        stream = video_stream(container)
        clock = Clock.of(container, stream)
        first = next(_decoded(container, stream, path), None)
        if first is None:
            raise MediaError(f"no frames could be decoded from {path}")
        orientation = Orientation.of(first)
        width, height = orientation.size(first.width, first.height)
        audio = _audio_stream(container)
        return VideoInfo(
            path, width, height, clock.fps, clock.frames, clock.duration_s,
            has_audio=audio is not None, metadata=_lower_keys(container.metadata),
            rotation=orientation.rotation, variable_rate=clock.variable_rate, start_s=clock.origin_s,
            audio_rate=audio.codec_context.sample_rate if audio else 0,
            audio_channels=audio.codec_context.channels if audio else 0,
        )


def read_metadata(path: str | Path) -> dict[str, str]:
    """The container's tags with lower-cased keys (Matroska upper-cases them); no decoding."""
    with _open(Path(path)) as container:
        return _lower_keys(container.metadata)


@dataclass(frozen=True)
class Clock:
    """A video stream's timing from its headers: seconds = pts * time_base - origin_s."""

    origin_s: float
    fps: float
    duration_s: float
    tick_s: float  # one time-base unit: how far a stored timestamp may sit from the true time
    variable_rate: bool

    @property
    def frames(self) -> int:
        return max(1, math.ceil(self.duration_s * self.fps - 1e-6)) if self.fps else 0

    @property
    def period_s(self) -> float:
        """One frame at the nominal rate; 0.0 without a rate."""
        return 1.0 / self.fps if self.fps else 0.0

    @classmethod
    def of(cls, container: av.container.InputContainer, stream: av.VideoStream) -> "Clock":
        tb = float(stream.time_base) if stream.time_base else 1e-6
        origin = stream.start_time * tb if stream.start_time is not None else 0.0
        average = float(stream.average_rate or 0)
        guessed = float(stream.guessed_rate or 0)
        tail = None
        if container.format.name.split(",")[0] not in INDEXED_FORMATS or not stream.duration:
            # Matroska/WebM/TS store the container's length (the sound's, which may run on, and
            # counted from 0 where the clock starts at 5000 s), MPEG-PS an estimate: the last
            # packets of the stream say where its pictures end.
            tail = _tail(container.name, stream.index, origin, (container.duration or 0) / av.time_base)
            if container.format.name in CENTISECOND_FORMATS and tail.delays:
                average, guessed = _centisecond_rate([d * tb for d in tail.delays])
        fps = _nominal_rate(average, guessed)
        if tail is None or tail.last_pts is None:
            duration = (stream.duration or 0) * tb
        else:  # the last picture lasts its stored duration (MPEG-TS stores none: one frame)
            duration = tail.last_pts * tb - origin + (tail.last_duration * tb if tail.last_duration else
                                                      (1.0 / fps if fps else 0.0))
        if duration <= 0 and fps and stream.frames:
            duration = stream.frames / fps
        return cls(origin, fps, duration, tb, bool(average and fps and abs(average - fps) > 0.01 * fps))


@dataclass(frozen=True)
class _Tail:
    """What the last packets of a stream say, in its time-base units."""

    last_pts: int | None  # the latest presentation time among them
    last_duration: int  # that packet's duration, 0 where none is stored
    delays: tuple[int, ...]  # every packet's duration (a GIF's delays: all its packets are read)


def _tail(name: str, index: int, origin_s: float, length_s: float) -> _Tail:
    """The stream's _Tail, once per file version: every read of a long Matroska or TS file (each
    block the monitor decodes, each export) asks the clock, and the scan opens the file again."""
    try:
        stat = os.stat(name)
    except OSError:
        return _scan_tail(name, index, origin_s, length_s)
    return _cached_tail(name, stat.st_mtime_ns, stat.st_size, index, origin_s, length_s)


@functools.lru_cache(maxsize=256)
def _cached_tail(name: str, _mtime_ns: int, _size: int, index: int, origin_s: float, length_s: float) -> _Tail:
    return _scan_tail(name, index, origin_s, length_s)


def _scan_tail(name: str, index: int, origin_s: float, length_s: float) -> _Tail:
    # Matroska counts its length from 0 even where the clock starts at 5000 s; others from the start.
    packets = _last_packets(name, index, origin_s + length_s) or _last_packets(name, index, length_s)
    last = max((p for p in packets if p.pts is not None), key=lambda p: p.pts, default=None)
    return _Tail(None if last is None else last.pts, (last.duration or 0) if last is not None else 0,
                 tuple(p.duration for p in packets if p.duration))


def _last_packets(name: str, index: int, end_s: float) -> list[av.Packet]:
    """The stream's packets from SCAN_TAIL_S before `end_s` on (all of a GIF's), by demuxing
    without decoding, in a second handle so the caller's read position stays; [] where a seek
    there finds none (the end was guessed wrong). A file shorter than the tail is read whole."""
    try:
        with av.open(name) as container:
            stream = container.streams[index]
            if container.format.name not in CENTISECOND_FORMATS and end_s > SCAN_TAIL_S:
                # any_frame: only packets are read, and a file with one keyframe must not be read whole
                container.seek(int((end_s - SCAN_TAIL_S) / float(stream.time_base)), stream=stream, backward=True,
                               any_frame=True)
            return [p for p in container.demux(stream) if p.size]
    except (av.FFmpegError, OSError):
        return []


def _centisecond_rate(delays: list[float]) -> tuple[float, float]:
    """(average, guessed) for a GIF: its delays are whole centiseconds, so an 8 fps GIF alternates
    12 and 13 cs and a 30 fps one 3 and 4 (delays one centisecond apart are a constant rate,
    read at frames over length, each picture once); uneven delays are read at the shortest, so
    that every picture shows."""
    if not delays:
        return 0.0, 0.0
    if max(delays) - min(delays) <= 0.0101 or max(delays) <= 1.1 * min(delays):
        return len(delays) / sum(delays), 0.0
    return 1.0 / max(min(delays), 0.02), 0.0  # browsers hold a delay under 2 cs longer


def _nominal_rate(average: float, guessed: float) -> float:
    """The rate a source is read at: FFmpeg's r_frame_rate (every timestamp fits it: 30 for a
    phone's 10-30 fps clip, where the average says 18.75) unless it is a timestamp unit, or the
    field rate of interlaced video (exactly twice the average)."""
    if 0 < guessed <= MAX_GUESSED_FPS and not (average and abs(guessed - 2 * average) < 0.01 * average):
        return guessed if guessed >= average * 0.99 else average
    return average if 0 < average <= MAX_SOURCE_FPS else 0.0


# -- pictures -------------------------------------------------------------------------------------
def iter_frames(path: str | Path, start: int = 0, stop: int | None = None, step: int = 1) -> Iterator[np.ndarray]:
    """Frames start, start+step, ... before stop, counted at the source's nominal rate: frame i
    is the picture on screen at i / fps (so a VFR clip keeps its timing). uint8 RGB (H, W, 3) as
    displayed, one at a time; a file without a rate is counted in decoding order."""
    if start < 0 or step < 1 or (stop is not None and stop < start):
        raise ValueError(f"bad frame range start={start} stop={stop} step={step}")
    path = Path(path)
    if path.is_dir():
        for file in png_frames(path)[start:stop:step]:
            yield _read_png(file)
        return
    with _open(path) as container:
        stream = video_stream(container)
        clock = Clock.of(container, stream)
        if not clock.fps:
            for i, frame in enumerate(_decoded(container, stream, path)):
                if stop is not None and i >= stop:
                    break
                if i >= start and (i - start) % step == 0:
                    yield to_rgb(frame)
            return
        # Up to where the pictures end, not the header's count: an MPEG-PS length is an estimate.
        indices = itertools.count(start, step) if stop is None else range(start, stop, step)
        yield from _pictures_at(container, stream, clock, path, (i / clock.fps for i in indices))


def frames_at(path: str | Path, times_s: Iterable[float]) -> Iterator[np.ndarray]:
    """The picture on screen at each time (seconds on the clip's clock, non-decreasing), as
    uint8 RGB (H, W, 3) displayed; stops at the clip's end. A picture shown at several of the
    times is yielded as the same array each time: copy it before changing it."""
    path = Path(path)
    with _open(path) as container:
        stream = video_stream(container)
        yield from _pictures_at(container, stream, Clock.of(container, stream), path, times_s)


def _pictures_at(container, stream, clock: Clock, path: Path, times: Iterable[float]) -> Iterator[np.ndarray]:
    wanted = _non_decreasing(times)
    target = next(wanted, None)
    if target is None:
        return
    stream.thread_type = "AUTO"
    # A stored timestamp rounded to its time base is still "at" t; but where a tick is a whole
    # frame (AVI's 1/fps) only a fraction of a frame may be forgiven.
    slack = min(clock.tick_s, 0.25 / clock.fps if clock.fps else clock.tick_s) + 1e-6
    frames = _from_keyframe_before(container, stream, clock, path, target - slack)
    shown = shown_rgb = None
    orientation = None
    end = 0.0
    t = -(clock.period_s or 1.0)
    for frame in frames:
        t = _seconds(frame, clock, t)
        while target is not None and t > target + slack:
            if shown is None:  # asked for a time before the first picture: show the first picture
                shown = frame
            if shown_rgb is None:
                orientation = orientation or Orientation.of(shown)
                shown_rgb = to_rgb(shown, orientation)
            yield shown_rgb
            target = next(wanted, None)
        if target is None:
            return
        shown, shown_rgb = frame, None
        end = t + _frame_seconds(frame, clock)
    if shown is None:
        raise MediaError(f"no frames could be decoded from {path}")
    # The last picture stays up for its own duration (a slide show's 10 s), not to the length the
    # header claims: a file cut short ends where its pictures do, and the caller can tell.
    while target is not None and target < end - slack:
        if shown_rgb is None:
            shown_rgb = to_rgb(shown, orientation or Orientation.of(shown))
        yield shown_rgb
        target = next(wanted, None)


def _non_decreasing(times: Iterable[float]) -> Iterator[float]:
    last = -math.inf
    for t in times:
        if t < last:
            raise ValueError("frame times must not decrease")
        last = t
        yield t


def _from_keyframe_before(container, stream, clock: Clock, path: Path, t: float) -> Iterator[av.VideoFrame]:
    """Decoded frames from the keyframe at or before clock time t (from the start when t is near
    it, or where the seek lands after t: a file with a bad index decodes from the start)."""
    if t > SEEK_AFTER_S:
        try:
            container.seek(int((clock.origin_s + t) / clock.tick_s), stream=stream, backward=True, any_frame=False)
            frames = _decoded(container, stream, path)
            first = next(frames, None)
            # Where it lands after t, or before the clip's start (an MPEG-TS clock that wraps
            # round), the index cannot be trusted: decode from the start.
            if first is not None and first.pts is not None and -SCAN_TAIL_S <= _seconds(first, clock, t) <= t:
                yield first
                yield from frames
                return
        except av.FFmpegError:
            pass
        # A seek back to the start can land anywhere in the same file (an MPEG-TS whose clock
        # wrapped round went to 6.0 s): a fresh demuxer reads it from its first byte.
        with av.open(container.name) as fresh:
            fresh_stream = fresh.streams[stream.index]
            fresh_stream.thread_type = "AUTO"
            yield from _decoded(fresh, fresh_stream, path)
        return
    yield from _decoded(container, stream, path)


def _seconds(frame: av.VideoFrame, clock: Clock, previous: float) -> float:
    """The frame's time on the clock; one frame after `previous` for a frame without a pts."""
    if frame.pts is not None:
        return frame.pts * clock.tick_s - clock.origin_s
    return previous + clock.period_s


def _frame_seconds(frame: av.VideoFrame, clock: Clock) -> float:
    """How long a picture stays up: its stored duration (one_frame_10s holds one for 10 s)."""
    if frame.duration:
        return frame.duration * clock.tick_s
    return clock.period_s


@dataclass(frozen=True)
class Orientation:
    """How the display matrix turns and mirrors the stored picture (FFmpeg fftools' autorotate:
    ffmpeg_filter.c, which maps the matrix to transpose/hflip/vflip)."""

    rotation: int = 0  # degrees counter-clockwise, as av_display_rotation_get reads it
    transpose: bool = False  # swap rows and columns, then:
    flip_rows: bool = False  # top-bottom
    flip_columns: bool = False  # left-right

    @classmethod
    def of(cls, frame: av.VideoFrame) -> "Orientation":
        matrix = next((np.frombuffer(bytes(sd), "<i4") for sd in frame.side_data if "DISPLAYMATRIX" in str(sd.type)), None)
        if matrix is None or len(matrix) < 9:
            return cls()
        rotation = int(round(frame.rotation or 0))
        theta = (-rotation) % 360  # fftools' get_rotation: the clockwise angle to turn by
        if abs(theta - 90) < 1:  # "clock", or "cclock_flip" for a mirrored matrix
            return cls(rotation, True, False, not matrix[3] > 0)
        if abs(theta - 270) < 1:  # "cclock", or "clock_flip"
            return cls(rotation, True, True, bool(matrix[3] < 0))
        if abs(theta - 180) < 1:
            return cls(rotation, False, bool(matrix[4] < 0), bool(matrix[0] < 0))
        return cls(rotation, False, bool(matrix[4] < 0), False)

    def size(self, width: int, height: int) -> tuple[int, int]:
        return (height, width) if self.transpose else (width, height)

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        if self.transpose:
            rgb = rgb.transpose(1, 0, 2)
        if self.flip_rows:
            rgb = rgb[::-1]
        if self.flip_columns:
            rgb = rgb[:, ::-1]
        return np.ascontiguousarray(rgb) if (self.transpose or self.flip_rows or self.flip_columns) else rgb


def to_rgb(frame: av.VideoFrame, orientation: Orientation | None = None) -> np.ndarray:
    """A decoded picture as uint8 RGB (H, W, 3), displayed: the one colour conversion of the
    product. YUV goes through swscale with the frame's own matrix (BT.601 where untagged, as
    FFmpeg's command line assumes) and range (full for yuvj*/JPEG-tagged), bicubic with accurate
    rounding and full chroma interpolation; alpha (GIF, PNG) is laid on white."""
    fmt = frame.format
    if any(c.is_alpha for c in fmt.components) or fmt.name == "pal8":
        rgba = frame.to_ndarray(format="rgba").astype(np.float32)
        alpha = rgba[..., 3:] / 255.0
        rgb = np.rint(rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    elif fmt.is_rgb:
        rgb = frame.to_ndarray(format="rgb24")
    else:
        full = frame.color_range == 2 or fmt.name.startswith("yuvj")
        space = frame.colorspace if frame.colorspace in (1, 4, 5, 6, 7, 9) else 5  # 5: BT.601
        rgb = frame.reformat(format="rgb24", src_colorspace=space, src_color_range="JPEG" if full else "MPEG",
                             dst_color_range="JPEG", interpolation=SWS_FLAGS).to_ndarray()
    return (orientation or Orientation.of(frame)).apply(rgb)


# -- sound ----------------------------------------------------------------------------------------
def audio_blocks(
    path: str | Path, start_s: float = 0.0, end_s: float | None = None, rate: int = 48_000, layout: str = "stereo",
) -> Iterator[np.ndarray]:
    """The first audio stream's sound from start_s to end_s (None: its end), seconds on the
    clip's clock, as float32 (channels, n) blocks at `rate` and `layout` (5.1 downmixed by
    libswresample). Where the stream has no sound (it starts late, it has a gap) the blocks hold
    silence, so sample n always plays at start_s + n / rate. Raises MediaError naming the file."""
    path = Path(path)
    first = round(start_s * rate)
    last = None if end_s is None else round(end_s * rate)
    cursor = first  # the next sample to hand out, counted on the clip's clock
    with _open(path, need_video=False) as container:
        audio = _audio_stream(container)
        if audio is None:
            raise MediaError(f"no audio stream in {path}")
        video = _video_streams(container)
        origin = _start_seconds(video[0]) if video else _start_seconds(audio)
        if start_s > SEEK_AFTER_S:
            container.seek(int((origin + start_s - 1.0) / float(audio.time_base)), stream=audio, backward=True)
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        position = None  # the clip-clock sample index of the next resampled sample
        try:
            for frame in container.decode(audio):
                at = None if frame.pts is None else round((frame.pts * float(audio.time_base) - origin) * rate)
                for piece in resampler.resample(frame):
                    if position is None or (at is not None and at - position > rate // 20):
                        position = at if at is not None else (position or 0)  # a gap of > 50 ms: keep it
                    data = piece.to_ndarray()
                    block, cursor = _cut(data, position, cursor, last)
                    position += data.shape[1]
                    if block is not None:
                        yield block
                if last is not None and cursor >= last:
                    return
        except av.FFmpegError as e:
            raise MediaError(f"broken audio in {path} ({e.strerror or type(e).__name__})") from None


def _cut(data: np.ndarray, position: int, cursor: int, last: int | None) -> tuple[np.ndarray | None, int]:
    """The part of `data` (which starts at sample `position`) from `cursor` up to `last`, with
    silence before it when it starts after `cursor`; and the cursor after it."""
    hi = position + data.shape[1]
    if last is not None:
        hi = min(hi, last)
    if hi <= cursor:
        return None, cursor
    lead = max(0, position - cursor)
    body = data[:, max(0, cursor - position) : hi - position]
    block = np.concatenate([np.zeros((data.shape[0], lead), np.float32), body], axis=1) if lead else body
    return np.ascontiguousarray(block, np.float32), hi


def has_audio(path: str | Path) -> bool:
    """Whether `path` holds an audio stream FFmpeg can decode; headers only, False for a file that
    cannot be opened."""
    try:
        with _open(Path(path), need_video=False) as container:
            return _audio_stream(container) is not None
    except MediaError:
        return False


def check_audio(path: str | Path) -> None:
    """Decode the first audio of `path` and resample it as an export will; MediaError if that
    fails, so a file whose sound cannot be kept is refused before any denoising."""
    for _ in zip(range(1), audio_blocks(path, 0.0, 0.5)):
        pass


# -- files and streams ----------------------------------------------------------------------------
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


def video_stream(container: av.container.InputContainer) -> av.VideoStream:
    """The first video stream that is not cover art (an MP4's attached picture)."""
    return _video_streams(container)[0]


def _video_streams(container) -> list:
    return [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]


def _audio_stream(container):
    return next((s for s in container.streams.audio if s.codec_context is not None), None)


def _start_seconds(stream) -> float:
    return stream.start_time * float(stream.time_base) if stream.start_time is not None else 0.0


@contextmanager
def _open(path: Path, need_video: bool = True) -> Iterator[av.container.InputContainer]:
    if not path.is_file():
        raise MediaError(f"{'not a regular file' if path.exists() else 'no such file'}: {path}")
    try:
        container = av.open(str(path))
    except av.FFmpegError as e:
        raise MediaError(f"not a video file: {path} ({e.strerror or type(e).__name__}); videos are {ACCEPTED}, or a folder of frame_*.png") from None
    except OSError as e:  # a FIFO, a permission, a symlink loop: the OS said no before FFmpeg could
        raise MediaError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        if need_video:
            _check_streams(container, path)
        yield container
    except av.FFmpegError as e:  # the header read fine, the data does not
        raise MediaError(f"broken video file: {path} ({e.strerror or type(e).__name__})") from None
    finally:
        container.close()


def _check_streams(container: av.container.InputContainer, path: Path) -> None:
    """Refuse what opens but holds no usable video: raises MediaError naming the file."""
    if not container.streams.video:
        raise MediaError(f"no video stream in {path}")
    # A song's cover art is a video stream holding one picture (disposition attached_pic):
    # taking it as video gives a one-frame 90000 fps clip.
    videos = _video_streams(container)
    if not videos:
        raise MediaError(f"only cover art, no video in {path}")
    codec = videos[0].codec_context
    # PyAV leaves codec_context None where FFmpeg has no decoder for the sample description
    # (a damaged stsd box); width/height 0 is the same damage in another place.
    if codec is None or codec.width <= 0 or codec.height <= 0:
        raise MediaError(f"broken video file: {path} (no decoder for its video stream)")


def _decoded(container, stream, path: Path) -> Iterator[av.VideoFrame]:
    try:
        yield from container.decode(stream)
    except av.FFmpegError as e:
        raise MediaError(f"broken video file: {path} ({e.strerror or type(e).__name__})") from None


def _lower_keys(tags: dict[str, str]) -> dict[str, str]:
    return {key.lower(): value for key, value in tags.items()}
