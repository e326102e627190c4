"""`t2vz compare`: several videos side by side in one labelled video, streamed frame by frame.

Every input is scaled to a common height (aspect kept) and gets a caption bar above it. A video
that ends before the longest one holds its last frame. Frames are read and written one at a
time, so the length of the inputs does not matter for memory.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from ..media import ExportOptions, ExportReport, VideoInfo, export_video, frames_at, iter_frames, probe_video

BAR_COLOUR = (20, 20, 20)


def caption_bar(text: str, width: int, height: int) -> np.ndarray:
    bar = np.full((height, width, 3), BAR_COLOUR, np.uint8)
    scale = height / 40
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    while tw > width - 6 and len(text) > 4:  # shorten from the left: file names end in what matters
        text = "..." + text[4:]
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    org = (max(3, (width - tw) // 2), (height + th) // 2)
    cv2.putText(bar, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return bar


def _held(frames: Iterator[np.ndarray], total: int) -> Iterator[np.ndarray]:
    last = None
    count = 0
    for last in frames:
        count += 1
        yield last
    while count < total and last is not None:
        count += 1
        yield last


def side_by_side_frames(
    paths: list[Path], labels: list[str], height: int, fps: float | None = None
) -> tuple[Iterator[np.ndarray], int]:
    """The grid's frames at `fps` (default: the first video's rate) and their count. Each tile
    shows its video's picture on screen at that moment (media.reader's clock), so a 30 fps
    source beside its 8 fps edit stays in step; a shorter video holds its last picture."""
    infos = [probe_video(p) for p in paths]
    fps = fps or infos[0].fps or 0.0
    total = max(_frames_at_rate(i, fps) for i in infos)
    widths = [max(2, round(i.width * height / i.height)) for i in infos]
    bar_h = max(16, height // 10)
    bars = [caption_bar(label, w, bar_h) for label, w in zip(labels, widths)]
    streams = [_held(_at_rate(i, fps), total) for i in infos]

    def frames() -> Iterator[np.ndarray]:
        for _ in range(total):
            tiles = []
            for stream, w, bar in zip(streams, widths, bars):
                frame = next(stream)
                if frame.shape[:2] != (height, w):
                    frame = cv2.resize(frame, (w, height), interpolation=cv2.INTER_AREA if frame.shape[0] > height else cv2.INTER_LINEAR)
                tiles.append(np.concatenate([bar, frame], axis=0))
            yield np.concatenate(tiles, axis=1)

    return frames(), total


def _frames_at_rate(info: VideoInfo, fps: float) -> int:
    if not (fps and info.fps):  # a PNG folder has no clock: frame by frame
        return info.frames
    return max(1, math.ceil(info.duration_s * fps - 1e-6))


def _at_rate(info: VideoInfo, fps: float) -> Iterator[np.ndarray]:
    if not (fps and info.fps):
        return iter_frames(info.path)
    return frames_at(info.path, (k / fps for k in itertools.count()))


def compare_videos(
    paths: list[str | Path], out: str | Path, labels: list[str] | None = None, height: int | None = None,
    fps: float | None = None,
) -> ExportReport:
    """Write the labelled side-by-side video of `paths` to `out` (any format `export_video` knows)."""
    paths = [Path(p) for p in paths]
    labels = labels or [p.stem for p in paths]
    if len(labels) != len(paths):
        raise ValueError(f"{len(labels)} label(s) for {len(paths)} video(s)")
    first = probe_video(paths[0])
    height = height or first.height
    fps = fps or first.fps or 8.0
    frames, _ = side_by_side_frames(paths, labels, height, fps)
    return export_video(frames, out, ExportOptions(fps=fps))
