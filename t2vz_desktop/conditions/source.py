"""A source video for editing: which frames, at what rate and size, streamed one at a time."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..media import MediaError, VideoInfo, iter_frames, probe_video

FITS = ("crop", "pad")
UNKNOWN_FPS = 8.0  # a PNG folder stores no frame rate: assume the export default
READ_ALL_LIMIT = 2 << 30  # bytes; read_all_uint8 refuses clips larger than this


@dataclass
class SourceSpec:
    path: str | Path
    start_frame: int = 0
    end_frame: int | None = None  # exclusive; None: to the end
    step: int = 1  # keep every step-th frame
    target_fps: float | None = None  # resample to this rate (nearest source frame); overrides step
    width: int | None = None  # None with height None: keep the aspect, short side = short_side
    height: int | None = None  # one of the two None: the other follows the source aspect
    fit: str = "crop"  # crop: centre-crop to the target aspect; pad: letterbox with black
    max_frames: int | None = None
    short_side: int = 512


@dataclass
class SourceClip:
    """The chosen frames of a probed source; `iter_frames` decodes them afresh on every call."""

    spec: SourceSpec
    info: VideoInfo
    indices: list[int]  # source frame index of each output frame (repeats when upsampling)
    fps: float  # output frame rate
    size: tuple[int, int]  # output (W, H), multiples of 8
    notes: list[str] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return self.info.path

    @property
    def frames(self) -> int:
        return len(self.indices)

    @property
    def has_audio(self) -> bool:
        return self.info.has_audio

    @property
    def time_range_s(self) -> tuple[float, float]:
        """Start and end of the covered stretch of the source, in seconds, for cutting its audio.

        The end is start + frames / fps, so the audio lasts exactly as long as the output video.
        Times count from the first decoded frame (a container's start offset is ignored).
        """
        start = self.indices[0] / self.source_fps
        return start, start + self.frames / self.fps

    @property
    def source_fps(self) -> float:
        return self.info.fps or UNKNOWN_FPS

    def iter_frames(self) -> Iterator[np.ndarray]:
        """Yield the output frames as uint8 RGB (H, W, 3), resized, decoding one at a time."""
        width, height = self.size
        first, last = self.indices[0], self.indices[-1]
        # Frames between the picked ones are decoded but not converted to RGB: with a regular
        # stride (step, or a whole-number fps ratio) the reader skips them.
        stride = math.gcd(*(b - a for a, b in zip(self.indices, self.indices[1:]))) or 1
        wanted = iter(self.indices)
        target = next(wanted)
        frame = None
        done = 0
        decoded = iter_frames(self.info.path, first, last + 1, stride)
        for index, frame in zip(range(first, last + 1, stride), decoded):
            if index != target:
                continue
            out = fit_frame(frame, width, height, self.spec.fit)
            while target == index:  # a frame picked twice (target_fps above the source rate)
                yield out
                done += 1
                target = next(wanted, -1)
        if done == self.frames:
            return
        if frame is None:
            raise MediaError(f"no frames could be decoded from {self.info.path}")
        # The container announced more frames than it holds: repeat the last one, so the clip
        # keeps the length that the caller planned with.
        out = fit_frame(frame, width, height, self.spec.fit)
        for _ in range(self.frames - done):
            yield out

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
    end = info.frames if spec.end_frame is None else min(spec.end_frame, info.frames)
    if spec.start_frame >= end:
        raise MediaError(
            f"no frames in the chosen range of {path}: start {spec.start_frame}, end {end}, "
            f"the video has {info.frames} frames"
        )
    if spec.target_fps is not None:
        indices = _resampled(spec.start_frame, end, source_fps, spec.target_fps)
        fps = float(spec.target_fps)
    else:
        indices = list(range(spec.start_frame, end, spec.step))
        fps = source_fps / spec.step
    if spec.max_frames is not None:
        indices = indices[: spec.max_frames]
    size = target_size(info.width, info.height, spec.width, spec.height, spec.short_side)
    return SourceClip(spec, info, indices, fps, size, notes)


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


def _resampled(start: int, end: int, source_fps: float, target_fps: float) -> list[int]:
    """The source frame nearest to each output time, for as many output frames as fill the
    stretch [start, end) of the source (its last frame is taken where the nearest is past it)."""
    ratio = source_fps / target_fps  # source frames per output frame
    count = max(1, math.ceil((end - start) / ratio - 1e-9))
    # floor(x + 0.5): ties go to the later frame, the same way at every step.
    return [min(end - 1, start + math.floor(k * ratio + 0.5)) for k in range(count)]


def _round8(x: float) -> int:
    return max(8, int(x / 8 + 0.5) * 8)


def _check_spec(spec: SourceSpec, path: Path) -> None:
    def bad(problem: str) -> MediaError:
        return MediaError(f"bad frame range for {path}: {problem}")

    if spec.start_frame < 0:
        raise bad(f"start frame {spec.start_frame} is negative")
    if spec.end_frame is not None and spec.end_frame <= spec.start_frame:
        raise bad(f"end frame {spec.end_frame} is not after start frame {spec.start_frame}")
    if spec.step < 1:
        raise bad(f"step {spec.step} must be at least 1")
    if spec.max_frames is not None and spec.max_frames < 1:
        raise bad(f"max frames {spec.max_frames} must be at least 1")
    if spec.target_fps is not None and not (spec.target_fps > 0 and math.isfinite(spec.target_fps)):
        raise ValueError(f"target fps must be a positive number, got {spec.target_fps}")
    for name, value in (("width", spec.width), ("height", spec.height), ("short side", spec.short_side)):
        if value is not None and not 8 <= value <= 8192:
            raise ValueError(f"{name} must be between 8 and 8192 pixels, got {value}")
    if spec.fit not in FITS:
        raise ValueError(f"fit must be one of {', '.join(FITS)}, got {spec.fit!r}")
