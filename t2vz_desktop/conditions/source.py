"""A source video for editing: which frames, at what rate and size, streamed one at a time."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..engine.request import MAX_FPS
from ..engine.request import MAX_SOURCE_SECONDS as MAX_SECONDS
from ..media import MediaError, VideoInfo, frames_at, iter_frames, probe_video

FITS = ("crop", "pad")
UNKNOWN_FPS = 8.0  # a PNG folder stores no frame rate: assume the export default
READ_ALL_LIMIT = 2 << 30  # bytes; read_all_uint8 refuses clips larger than this
MAX_SIDE = 8192  # pixels, either side of an output frame


@dataclass
class SourceSpec:
    path: str | Path
    start_frame: int = 0
    end_frame: int | None = None  # exclusive; None: to the end
    step: int = 1  # keep every step-th frame
    target_fps: float | None = None  # resample to this rate (the picture on screen at each time); overrides step
    width: int | None = None  # None with height None: keep the aspect, short side = short_side
    height: int | None = None  # one of the two None: the other follows the source aspect
    fit: str = "crop"  # crop: centre-crop to the target aspect; pad: letterbox with black
    max_frames: int | None = None
    short_side: int = 512
    start_s: float | None = None  # seconds on the source's clock; instead of start_frame
    end_s: float | None = None  # seconds, exclusive; instead of end_frame

    @classmethod
    def of_edit(cls, edit, width: int | None, height: int | None, short_side: int = 512) -> "SourceSpec":
        """The source range of an engine EditSpec, at the request's size."""
        return cls(edit.source, edit.start, edit.end, edit.step, edit.fps, width, height, edit.fit,
                   short_side=short_side, start_s=edit.start_s, end_s=edit.end_s)


@dataclass
class SourceClip:
    """The chosen frames of a probed source; `iter_frames` decodes them afresh on every call.

    Frame k of the clip is the source picture on screen at times[k] (seconds on the source's
    clock: media.reader), so a variable-frame-rate source keeps its timing and its sound.
    """

    spec: SourceSpec
    info: VideoInfo
    times: list[float]  # source time of each output frame, seconds, non-decreasing
    fps: float  # output frame rate
    size: tuple[int, int]  # output (W, H), multiples of 8
    notes: list[str] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return self.info.path

    @property
    def frames(self) -> int:
        return len(self.times)

    @property
    def has_audio(self) -> bool:
        return self.info.has_audio

    @property
    def time_range_s(self) -> tuple[float, float]:
        """Start and end of the covered stretch on the source's clock, in seconds, for cutting
        its audio: start + frames / fps, so the sound lasts exactly as long as the output video."""
        return self.times[0], self.times[0] + self.frames / self.fps

    @property
    def source_fps(self) -> float:
        return self.info.fps or UNKNOWN_FPS

    def iter_frames(self) -> Iterator[np.ndarray]:
        """Yield the output frames as uint8 RGB (H, W, 3), resized, decoding one at a time.
        MediaError when the file's pictures end before the range does (a file cut short), in
        every command alike: never padded with a frozen last picture."""
        width, height = self.size
        done, last, out = 0, None, None
        for frame in self._pictures():
            if frame is not last:  # a picture shown at several times is resized once
                last, out = frame, fit_frame(frame, width, height, self.spec.fit)
            yield out
            done += 1
        if done < self.frames:
            raise MediaError(f"broken video file: {self.info.path} (its pictures end after {done} of the "
                             f"{self.frames} frames in the chosen range: cut short?)")

    def _pictures(self) -> Iterator[np.ndarray]:
        if self.info.fps:
            return frames_at(self.info.path, self.times)
        # A PNG folder has no clock: its frame i is shown at i / UNKNOWN_FPS.
        indices = [int(t * UNKNOWN_FPS + 1e-6) for t in self.times]
        return _repeat(iter_frames(self.info.path, indices[0], indices[-1] + 1), indices)

    def read_all_uint8(self) -> np.ndarray:
        """All output frames as one (n, H, W, 3) uint8 array; for short clips only."""
        width, height = self.size
        nbytes = self.frames * width * height * 3
        if nbytes > READ_ALL_LIMIT:
            raise ValueError(
                f"{self.frames} frames of {width}x{height} from {self.info.path} need "
                f"{nbytes / 2**30:.1f} GiB; stream them with iter_frames() instead"
            )
        out = np.empty((self.frames, height, width, 3), np.uint8)  # (frames, H, W, 3)
        for i, frame in enumerate(self.iter_frames()):
            out[i] = frame
        return out


def _repeat(frames: Iterator[np.ndarray], indices: list[int]) -> Iterator[np.ndarray]:
    """frames holds pictures indices[0], indices[0]+1, ...: yield the one for each index."""
    at, frame = indices[0] - 1, None
    for index in indices:
        while at < index:
            frame, at = next(frames, frame), at + 1
        if frame is not None:
            yield frame


def open_source(spec: SourceSpec) -> SourceClip:
    """Probe the file and work out frames, rate and size; MediaError names the file if it fails."""
    path = Path(spec.path)
    _check_spec(spec, path)
    try:
        info = probe_video(path)
    except MediaError:
        raise
    except Exception as e:  # a decoder/OS error deep in PyAV or OpenCV: still one line
        raise MediaError(f"cannot read {path} as a video ({e})") from None
    if info.frames < 1 or info.width < 1 or info.height < 1:
        raise MediaError(f"no video frames in {path}")

    notes = []
    if not info.fps:
        notes.append(f"{path} stores no frame rate: assuming {UNKNOWN_FPS:g} fps")
    source_fps = info.fps or UNKNOWN_FPS
    length_s = info.duration_s if info.fps and info.duration_s > 0 else info.frames / source_fps
    start_s = spec.start_s if spec.start_s is not None else spec.start_frame / source_fps
    end_s = spec.end_s if spec.end_s is not None else (None if spec.end_frame is None else spec.end_frame / source_fps)
    end_s = length_s if end_s is None else min(end_s, length_s)
    fps = float(spec.target_fps) if spec.target_fps is not None else source_fps / spec.step
    count = math.ceil((end_s - start_s) * fps - 1e-6)
    if count < 1:
        raise MediaError(
            f"no frames in the chosen range of {path}: {_describe_range(spec)}, "
            f"the video has {info.frames} frames ({length_s:.3f} s)"
        )
    if spec.max_frames is not None:
        count = min(count, spec.max_frames)
    times = [start_s + k / fps for k in range(count)]
    size = target_size(info.width, info.height, spec.width, spec.height, spec.short_side)
    if max(size) > MAX_SIDE:
        raise ValueError(f"{path} is {info.width}x{info.height}: its frames would be {size[0]}x{size[1]}, over "
                         f"{MAX_SIDE} pixels; give --width or --height")
    return SourceClip(spec, info, times, fps, size, notes)


def _describe_range(spec: SourceSpec) -> str:
    if spec.start_s is not None or spec.end_s is not None:
        return f"start {spec.start_s or 0:g} s, end {'the end' if spec.end_s is None else f'{spec.end_s:g} s'}"
    return f"start {spec.start_frame}, end {'the end' if spec.end_frame is None else spec.end_frame}"


def target_size(
    src_w: int, src_h: int, width: int | None, height: int | None, short_side: int = 512
) -> tuple[int, int]:
    """Output (W, H): given sides kept, missing ones from the source aspect; multiples of 8."""
    if width is None and height is None:
        scale = short_side / min(src_w, src_h)
        width, height = src_w * scale, src_h * scale
    elif width is None:
        width = height * src_w / src_h
    elif height is None:
        height = width * src_h / src_w
    return _round8(width), _round8(height)


def fit_frame(frame: np.ndarray, width: int, height: int, fit: str = "crop") -> np.ndarray:
    """Resize an RGB frame to (height, width, 3): centre-crop or letterbox to the aspect first."""
    src_h, src_w = frame.shape[:2]
    if (src_w, src_h) == (width, height):
        return frame
    if fit == "crop":
        # The largest centred window of the target aspect, then a plain resize.
        crop_w = min(src_w, round(src_h * width / height))
        crop_h = min(src_h, round(src_w * height / width))
        x0, y0 = (src_w - crop_w) // 2, (src_h - crop_h) // 2
        return _resize(frame[y0 : y0 + crop_h, x0 : x0 + crop_w], width, height)
    # pad: scale to fit inside, centre on black
    scale = min(width / src_w, height / src_h)
    inner_w = min(width, max(1, round(src_w * scale)))
    inner_h = min(height, max(1, round(src_h * scale)))
    out = np.zeros((height, width, 3), np.uint8)
    x0, y0 = (width - inner_w) // 2, (height - inner_h) // 2
    out[y0 : y0 + inner_h, x0 : x0 + inner_w] = _resize(frame, inner_w, inner_h)
    return out


def _resize(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    if frame.shape[:2] == (height, width):
        return np.ascontiguousarray(frame)
    shrinking = width * height < frame.shape[0] * frame.shape[1]
    # Area averaging does not alias when shrinking; cubic is sharper when enlarging.
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    return cv2.resize(np.ascontiguousarray(frame), (width, height), interpolation=interpolation)


def add_range_arguments(parser, fps_flag: str, fps_help: str) -> None:
    """The source-range flags `condition` and `edit` share: frames or seconds, step, rate."""
    parser.add_argument("--start", type=int, help="first source frame, at the source's rate (default 0)")
    parser.add_argument("--end", type=int, help="source frame to stop before (default: the end)")
    parser.add_argument("--start-time", type=float, metavar="SECONDS", help="start at this time of the source instead")
    parser.add_argument("--end-time", type=float, metavar="SECONDS", help="stop before this time of the source")
    parser.add_argument("--step", type=int, default=1, help="use every N-th source frame (default 1)")
    parser.add_argument(fps_flag, type=float, help=fps_help)


def range_from_arguments(args) -> tuple[int, int | None, float | None, float | None]:
    """(start frame, end frame, start s, end s) from the flags above; ValueError for a frame and
    a time given for the same end."""
    for frame, time in (("start", "start_time"), ("end", "end_time")):
        if getattr(args, frame) is not None and getattr(args, time) is not None:
            raise ValueError(f"give --{frame} or --{time.replace('_', '-')}, not both")
    return args.start or 0, args.end, args.start_time, args.end_time


def rounded_size(width: int | None, height: int | None, notes: list[str]) -> tuple[int | None, int | None]:
    """Asked sides as the source-reading commands use them: the nearest multiple of 8 (what a
    latent needs), said in `notes` when it moved."""
    sides = []
    for name, value in (("width", width), ("height", height)):
        if value is not None and value >= 8 and value % 8:
            notes.append(f"--{name} {value} is not a multiple of 8: using {_round8(value)}")
            value = _round8(value)
        sides.append(value)
    return sides[0], sides[1]


def _round8(x: float) -> int:
    return max(8, int(x / 8 + 0.5) * 8)


def _check_spec(spec: SourceSpec, path: Path) -> None:
    def bad(problem: str) -> MediaError:
        return MediaError(f"bad frame range for {path}: {problem}")

    if spec.start_frame < 0:
        raise bad(f"start frame {spec.start_frame} is negative")
    if spec.end_frame is not None and spec.end_frame <= spec.start_frame:
        raise bad(f"end frame {spec.end_frame} is not after start frame {spec.start_frame}")
    for name, value in (("start time", spec.start_s), ("end time", spec.end_s)):
        if value is not None and not 0 <= value <= MAX_SECONDS:
            raise bad(f"{name} {value} s must be a number of seconds from 0 to {MAX_SECONDS:,.0f}")
    if spec.start_s is not None and spec.end_s is not None and spec.end_s <= spec.start_s:
        raise bad(f"end time {spec.end_s:g} s is not after start time {spec.start_s:g} s")
    if spec.step < 1:
        raise bad(f"step {spec.step} must be at least 1")
    if spec.max_frames is not None and spec.max_frames < 1:
        raise bad(f"max frames {spec.max_frames} must be at least 1")
    if spec.target_fps is not None and not 0 < spec.target_fps <= MAX_FPS:
        raise ValueError(f"the frame rate must be above 0 and at most {MAX_FPS:g} fps, got {spec.target_fps}")
    for name, value in (("width", spec.width), ("height", spec.height), ("short side", spec.short_side)):
        if value is not None and not 8 <= value <= MAX_SIDE:
            raise ValueError(f"{name} must be between 8 and 8192 pixels, got {value}")
    if spec.fit not in FITS:
        raise ValueError(f"fit must be one of {', '.join(FITS)}, got {spec.fit!r}")
