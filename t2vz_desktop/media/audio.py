"""Audio of a source clip, cut to a time range and re-encoded for an export (AAC in MP4, Opus in
WebM), so that an edited video keeps its source's sound in sync. The sound is read by
`reader.audio_blocks`, on the same clock as the pictures."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from .reader import MediaError, audio_blocks, probe_video

CODECS = {"mp4": "aac", "webm": "libopus"}
LAYOUT = "stereo"


@dataclass(frozen=True)
class AudioClip:
    """Seconds [start_s, end_s) of the first audio stream of `path`, on the clock of its video
    (media.reader: 0 is the first picture); end None = to the end."""

    path: Path
    start_s: float = 0.0
    end_s: float | None = None


def export_rate(fmt: str, source_rate: int) -> int:
    """The sample rate an export stores: Opus encodes at 48 kHz; AAC takes a few standard rates
    only (22222 Hz PCM made the export fail after the whole denoising), so 44.1 kHz up to there,
    else 48 kHz."""
    return 48000 if fmt == "webm" or source_rate > 44100 else 44100


def add_audio_stream(container: av.container.OutputContainer, fmt: str, clip: AudioClip):
    info = probe_video(clip.path)
    if not info.has_audio:
        raise MediaError(f"{clip.path} has no audio")
    stream = container.add_stream(CODECS[fmt], rate=export_rate(fmt, info.audio_rate))
    stream.layout = LAYOUT
    return stream


def audio_packets(stream, clip: AudioClip) -> Iterator[av.Packet]:
    """Encoded packets of the clip's range, timestamps starting at 0, in order; a late-starting
    stream begins with silence, so its sound stays where it was against the pictures."""
    rate = stream.rate
    framer = av.AudioResampler(format=stream.format.name, layout=LAYOUT, rate=rate,
                               frame_size=stream.codec_context.frame_size or 1024)
    written = 0
    for block in audio_blocks(clip.path, clip.start_s, clip.end_s, rate, LAYOUT):
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format="fltp", layout=LAYOUT)
        frame.sample_rate = rate
        for g in framer.resample(frame):
            g.pts, written = written, written + g.samples
            yield from stream.encode(g)
    for g in framer.resample(None):
        g.pts, written = written, written + g.samples
        yield from stream.encode(g)
    yield from stream.encode(None)
