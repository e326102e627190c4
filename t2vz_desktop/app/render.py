"""Timeline pictures and sound without Qt: the frame at the playhead for the monitor, and the
whole timeline or a range of it rendered to a file (top track wins, imported audio mixed in)
for the export.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..media import (
    AUDIO_CODECS, ExportOptions, MediaError, MixedSound, audio_blocks, check_target, export_format, export_video,
    iter_frames,
)
from ..engine.interpolate import between, interpolate_frames, output_count, pair_flows
from .project import Clip, MediaItem, Project

AUDIO_RATE = 48_000


class RenderCancelled(Exception):
    """The user stopped the export; no file is left behind."""


def fit_frame(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale `frame` to fit inside width x height keeping its aspect, centred on black."""
    h, w = frame.shape[:2]
    if (w, h) == (width, height):
        return frame
    scale = min(width / w, height / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    resized = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    out = np.zeros((height, width, 3), np.uint8)
    y, x = (height - nh) // 2, (width - nw) // 2
    out[y : y + nh, x : x + nw] = resized
    return out


class FrameCache:
    """Decoded source frames for scrubbing and playback, in blocks of BLOCK frames.

    Decoding a block costs one pass from the file's start (iter_frames cannot seek), so blocks are
    kept, least recently used dropped first once `max_bytes` is reached. Frames are stored shrunk
    to fit `max_side`, which is all a preview monitor shows. During playback the next block is
    decoded ahead on a background thread (`prefetch`), so the monitor does not stall at block ends.
    """

    BLOCK = 48

    def __init__(self, max_bytes: int = 384 << 20, max_side: int = 640):
        self.max_bytes, self.max_side = max_bytes, max_side
        self._blocks: OrderedDict[tuple[str, int], list[np.ndarray]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()  # the decode thread stores blocks too
        self._pending: dict[tuple[str, int], Future] = {}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="t2vz-decode")

    def frame(self, item: MediaItem, index: int) -> np.ndarray | None:
        """Source frame `index` of `item`, or None when the file is offline or unreadable."""
        if item.offline:
            return None
        key = (item.path, index // self.BLOCK)
        with self._lock:
            block, pending = self._blocks.get(key), self._pending.get(key)
        if block is None:
            block = pending.result() if pending is not None else self._decode(item, key[1])
            self._store(key, block)
        with self._lock:
            if key in self._blocks:
                self._blocks.move_to_end(key)
        offset = index % self.BLOCK
        return block[offset] if offset < len(block) else (block[-1] if block else None)

    def prefetch(self, item: MediaItem, index: int) -> None:
        """Start decoding the block that holds `index`, unless it is cached or on its way."""
        key = (item.path, index // self.BLOCK)
        with self._lock:
            if item.offline or key in self._blocks or key in self._pending:
                return
            future = self._pool.submit(self._decode, item, key[1])
            self._pending[key] = future
        future.add_done_callback(lambda f: self._store(key, f.result()))

    def _store(self, key: tuple[str, int], block: list[np.ndarray]) -> None:
        with self._lock:
            self._pending.pop(key, None)
            if key in self._blocks:
                return
            self._blocks[key] = block
            self._bytes += sum(f.nbytes for f in block)
            while self._bytes > self.max_bytes and len(self._blocks) > 1:
                _, dropped = self._blocks.popitem(last=False)
                self._bytes -= sum(f.nbytes for f in dropped)

    def _decode(self, item: MediaItem, block: int) -> list[np.ndarray]:
        start = block * self.BLOCK
        try:
            frames = list(iter_frames(item.path, start, start + self.BLOCK))
        except (MediaError, OSError):  # the file went away or broke since it was imported
            return []
        scale = self.max_side / max(item.width, item.height, 1)
        if scale < 1:
            size = (max(1, round(item.width * scale)), max(1, round(item.height * scale)))
            frames = [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]
        return frames


def prefetch_at(project: Project, frame: int, cache: FrameCache) -> None:
    """Have the picture at timeline frame `frame` decoded ahead, in the background."""
    clip = project.visible_clip(frame)
    if clip is not None:
        item = project.media[clip.media_id]
        cache.prefetch(item, item.source_frame(clip.in_point + frame - clip.start, project.fps))


def smooths(clip: Clip, item: MediaItem, fps: float) -> bool:
    """Whether `clip` is shown with interpolated frames in a project at `fps`."""
    return clip.interpolate and 0 < item.fps < fps - 1e-6 and item.frames > 1


class PairFlows:
    """The flows between consecutive source frames, kept for the few pairs playback is between:
    at 8 fps in a 24 fps project each pair serves two interpolated frames."""

    def __init__(self, size: int = 4):
        self.size, self._flows, self._lock = size, OrderedDict(), threading.Lock()

    def between(self, key: tuple, a: np.ndarray, b: np.ndarray, s: float) -> np.ndarray:
        with self._lock:
            flows = self._flows.get(key)
        if flows is None:
            flows = pair_flows(a, b)
            with self._lock:
                self._flows[key] = flows
                while len(self._flows) > self.size:
                    self._flows.popitem(last=False)
        return between(a, b, s, flows)


_MONITOR_FLOWS = PairFlows()


def frame_at(project: Project, frame: int, cache: FrameCache) -> tuple[np.ndarray | None, Clip | None]:
    """The picture at timeline frame `frame` (None where no clip is) and the clip it comes from."""
    clip = project.visible_clip(frame)
    if clip is None:
        return None, None
    item = project.media[clip.media_id]
    at = clip.in_point + frame - clip.start
    if not smooths(clip, item, project.fps):
        return cache.frame(item, item.source_frame(at, project.fps)), clip
    position = item.source_position(at, project.fps)
    index, s = int(position), position - int(position)
    a = cache.frame(item, index)
    b = cache.frame(item, index + 1) if s > 1e-6 and index + 1 < item.frames else None
    if a is None or b is None or a.shape != b.shape:
        return a, clip
    return _MONITOR_FLOWS.between((item.path, index, a.shape), a, b, s), clip


@dataclass
class Segment:
    """A stretch of the timeline [start, end) where one clip is on top (clip None: a gap)."""

    start: int
    end: int
    clip: Clip | None


def visible_segments(project: Project, first: int = 0, last: int | None = None) -> list[Segment]:
    """The stretches of timeline frames [first, last) (default: the whole timeline); past the
    last clip is a gap."""
    last = project.duration if last is None else last
    cuts = sorted({first, last, *(e for e in project.edges() if first < e < last)})
    segments: list[Segment] = []
    for a, b in zip(cuts, cuts[1:]):
        clip = project.visible_clip(a)
        if segments and segments[-1].clip is clip:
            segments[-1].end = b
        else:
            segments.append(Segment(a, b, clip))
    return segments


def timeline_frames(project: Project, width: int, height: int, first: int = 0, last: int | None = None
                    ) -> Iterator[np.ndarray]:
    """Timeline frames [first, last) (default: all) at width x height, decoding each visible clip
    once, in order."""
    black = np.zeros((height, width, 3), np.uint8)
    for seg in visible_segments(project, first, last):
        item = project.media[seg.clip.media_id] if seg.clip else None
        if item is None or item.offline:
            yield from (black for _ in range(seg.start, seg.end))
            continue
        if smooths(seg.clip, item, project.fps):
            yield from _smooth_segment(project, seg, item, width, height)
            continue
        wanted = [item.source_frame(seg.clip.in_point + f - seg.clip.start, project.fps) for f in range(seg.start, seg.end)]
        source = iter_frames(item.path, wanted[0], wanted[-1] + 1)
        index, current = wanted[0] - 1, black
        for w in wanted:  # non-decreasing: a slower source repeats frames, a faster one skips
            while index < w:
                current = fit_frame(next(source, current), width, height)
                index += 1
            yield current


def _smooth_segment(project: Project, seg: Segment, item: MediaItem, width: int, height: int) -> Iterator[np.ndarray]:
    """A smooth-motion clip's frames: each timeline frame between two source frames is made by
    optical flow from them, at the output size; a source frame's own time shows that frame."""
    positions = [item.source_position(seg.clip.in_point + f - seg.clip.start, project.fps) for f in range(seg.start, seg.end)]
    first, last = int(positions[0]), min(int(positions[-1]) + 1, item.frames - 1)
    source = (fit_frame(f, width, height) for f in iter_frames(item.path, first, last + 1))
    index, a = first, next(source, None)
    if a is None:  # the file went away since import
        a = np.zeros((height, width, 3), np.uint8)
    b, flows = None, None
    for position in positions:
        while index < int(position):
            a, b, flows = (b if b is not None else next(source, a)), None, None
            index += 1
        s = position - index
        if s <= 1e-6 or index >= last:
            yield a
            continue
        if b is None:
            b = next(source, a)
        if flows is None:
            flows = pair_flows(a, b)
        yield between(a, b, s, flows)


def clip_sound(item: MediaItem, start_s: float, end_s: float) -> np.ndarray | None:
    """Seconds [start_s, end_s) of the item's sound on its own clock (media.reader: silence
    where its audio starts late), float32 stereo at AUDIO_RATE, shape (2, samples); None when it
    has none that can be read. Only that range is decoded, not the whole file."""
    try:
        blocks = list(audio_blocks(item.path, start_s, end_s, AUDIO_RATE, "stereo"))
    except MediaError:  # the file went away or broke since import: the export goes on without it
        return None
    return np.concatenate(blocks, axis=1) if blocks else None


def to_sample(frame: int, fps: float) -> int:
    """The sample (at AUDIO_RATE) that plays when timeline frame `frame` is shown."""
    return round(frame / fps * AUDIO_RATE)


def mix_window(project: Project, first: int, last: int) -> np.ndarray | None:
    """Samples [first, last) of the timeline's sound at AUDIO_RATE (sample 0 plays with frame 0):
    the sum of every heard clip's sound at its place, float32 stereo (2, last - first) clipped to
    [-1, 1]; None when no clip in that window has sound. The one mixer: the export mixes the
    whole timeline with it and the monitor its playback blocks, so both sound the same."""
    fps, mix = project.fps, None
    for track in project.tracks:
        if track.muted:  # left out of playback and export alike
            continue
        for clip in track.clips:
            item = project.media[clip.media_id]
            if not item.has_audio or item.offline:
                continue
            at = to_sample(clip.start, fps)
            # the clip's own samples, counted as clip_sound counts them, so a window cut anywhere
            # gives the same samples as the whole
            source = to_sample(clip.in_point, fps)
            lo, hi = max(first, at), min(last, at + to_sample(clip.out_point, fps) - source)
            if lo >= hi:
                continue
            sound = clip_sound(item, (source + lo - at) / AUDIO_RATE, (source + hi - at) / AUDIO_RATE)
            if sound is None:
                continue
            piece = sound[:, : hi - lo]
            if mix is None:
                mix = np.zeros((2, last - first), np.float32)
            mix[:, lo - first : lo - first + piece.shape[1]] += piece
    return None if mix is None else np.clip(mix, -1.0, 1.0)


def mix_audio(project: Project) -> np.ndarray | None:
    """The whole timeline's mixed sound (mix_window from its first frame to its last); None if no
    clip has sound."""
    return mix_window(project, 0, to_sample(project.duration, project.fps))


@dataclass
class RenderOptions:
    width: int
    height: int
    fps: float  # the project's rate, at which the timeline is read
    format: str | None = None  # mp4, webm, gif, png; None: from the file name
    crf: int = 20
    audio: bool = True
    # Write at this higher rate, the frames between the project's made by optical flow
    # (engine/interpolate.py); None: at the project's rate.
    interpolate_fps: float | None = None

    @property
    def output_fps(self) -> float:
        return self.interpolate_fps or self.fps


def stored_size(width: int, height: int, fmt: str) -> tuple[int, int]:
    """The size an export to `fmt` writes: MP4 and WebM round odd sides up (yuv420p needs even)."""
    if fmt in ("mp4", "webm"):
        return width + width % 2, height + height % 2
    return width, height


def render_timeline(
    project: Project, out: str | Path, options: RenderOptions,
    on_progress: Callable[[int, int], None] | None = None, cancelled: Callable[[], bool] = lambda: False,
    span: tuple[int, int] | None = None,
) -> Path:
    """Render timeline frames [first, last) of `span` (project frames; None: the whole timeline)
    and their sound to `out`: the file starts with frame `first` and its sound, and progress
    counts the range's frames. All or nothing (a cancel or error leaves no file). A range past
    the last clip is black and silent there, as a gap is."""
    out = Path(out)
    fmt = export_format(out, options.format)
    check_target(out, fmt)  # also finishes or clears what a killed export to `out` left
    if project.duration == 0:
        raise ValueError("the timeline is empty: put a clip on it first")
    first, last = (0, project.duration) if span is None else span
    if not 0 <= first < last:
        raise ValueError(f"the range to export is empty (frames {first} to {last}): mark an In point before the Out point")
    width, height = stored_size(options.width, options.height, fmt)
    pictures = timeline_frames(project, width, height, first, last)
    total = last - first
    if options.interpolate_fps:
        pairs = interpolate_frames(pictures, project.fps, options.interpolate_fps, total)
        pictures, total = (frame for frame, _ in pairs), output_count(total, project.fps, options.interpolate_fps)

    def frames() -> Iterator[np.ndarray]:
        for i, frame in enumerate(pictures):
            if cancelled():
                raise RenderCancelled()
            if on_progress:
                on_progress(i + 1, total)
            yield frame

    wants_sound = options.audio and fmt in AUDIO_CODECS
    # the range's samples only, through the one mixer: sample 0 of the file plays with frame `first`
    audio = mix_window(project, to_sample(first, project.fps), to_sample(last, project.fps)) if wants_sound else None
    sound = MixedSound(audio, AUDIO_RATE) if audio is not None else None
    export_video(frames(), out, ExportOptions(fps=options.output_fps, format=fmt, crf=options.crf, audio=sound))
    return out
