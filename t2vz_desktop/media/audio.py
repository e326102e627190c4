"""Audio of a source clip, cut to a time range and re-encoded for an export (AAC in MP4, Opus in
WebM), so that an edited video keeps its source's sound in sync."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from .reader import MediaError

CODECS = {"mp4": "aac", "webm": "libopus"}
LAYOUT = "stereo"


@dataclass(frozen=True)
class AudioClip:
    """Seconds [start_s, end_s) of the first audio stream of `path`; end None = to the end."""

    path: Path
    start_s: float = 0.0
    end_s: float | None = None


def has_audio(path: str | Path) -> bool:
    try:
        with av.open(str(path)) as c:
            return len(c.streams.audio) > 0
    except (av.error.FFmpegError, OSError):
        return False


def add_audio_stream(container: av.container.OutputContainer, fmt: str, clip: AudioClip):
    with av.open(str(clip.path)) as c:
        if not c.streams.audio:
            raise MediaError(f"{clip.path} has no audio")
        rate = c.streams.audio[0].rate or 48000
    # Opus encodes at 48 kHz; AAC stores a few standard rates only (22222 Hz PCM made the export
    # fail after the whole denoising): 44.1 kHz up to there, else 48 kHz. audio_packets resamples.
    rate = 48000 if fmt == "webm" or rate > 44100 else 44100
    stream = container.add_stream(CODECS[fmt], rate=rate)
    stream.layout = LAYOUT
    return stream


def audio_packets(stream, clip: AudioClip) -> Iterator[av.Packet]:
    """Encoded packets of the clip's range, timestamps starting at 0, in order."""
    rate = stream.rate
    to_float = av.AudioResampler(format="fltp", layout=LAYOUT, rate=rate)
    framer = av.AudioResampler(format=stream.format.name, layout=LAYOUT, rate=rate,
                               frame_size=stream.codec_context.frame_size or 1024)
    first = int(round(clip.start_s * rate))
    last = None if clip.end_s is None else int(round(clip.end_s * rate))
    position = None  # sample index (in the source's timeline) of the next resampled sample
    written = 0
    with av.open(str(clip.path)) as c:
        source = c.streams.audio[0]
        for frame in c.decode(source):
            for f in to_float.resample(frame):
                if position is None:
                    position = int(round(float(frame.pts * frame.time_base) * rate)) if frame.pts is not None else 0
                data = f.to_ndarray()  # (channels, samples) float32
                lo, hi = position, position + data.shape[1]
                position = hi
                keep = data[:, max(first - lo, 0) : (data.shape[1] if last is None else max(min(last, hi) - lo, 0))]
                if keep.shape[1] == 0:
                    continue
                cut = av.AudioFrame.from_ndarray(np.ascontiguousarray(keep), format="fltp", layout=LAYOUT)
                cut.sample_rate = rate
                for g in framer.resample(cut):
                    g.pts, written = written, written + g.samples
                    yield from stream.encode(g)
            if last is not None and position is not None and position >= last:
                break
    for g in framer.resample(None):
        g.pts, written = written, written + g.samples
        yield from stream.encode(g)
    yield from stream.encode(None)
