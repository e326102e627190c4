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


@dataclass(frozen=True)
class MixedSound:
    """Sound already mixed (the timeline's tracks), muxed as it is: `samples` float32 (2, n) in
    [-1, 1], stereo, `rate` samples a second; sample 0 plays with the first picture."""

    samples: np.ndarray
    rate: int

    def blocks(self, size: int = 4800) -> Iterator[np.ndarray]:
        for start in range(0, self.samples.shape[1], size):
            yield self.samples[:, start : start + size]


Sound = AudioClip | MixedSound


def export_rate(fmt: str, source_rate: int) -> int:
    """The sample rate an export stores: Opus encodes at 48 kHz; AAC takes a few standard rates
    only (22222 Hz PCM made the export fail after the whole denoising), so 44.1 kHz up to there,
    else 48 kHz."""
    return 48000 if fmt == "webm" or source_rate > 44100 else 44100


def add_audio_stream(container: av.container.OutputContainer, fmt: str, sound: Sound):
    if isinstance(sound, MixedSound):
        source_rate = sound.rate
    else:
        info = probe_video(sound.path)
        if not info.has_audio:
            raise MediaError(f"{sound.path} has no audio")
        source_rate = info.audio_rate
    stream = container.add_stream(CODECS[fmt], rate=export_rate(fmt, source_rate))
    stream.layout = LAYOUT
    return stream


def audio_packets(stream, sound: Sound) -> Iterator[av.Packet]:
    """Encoded packets of the sound (a clip's range, or mixed samples), timestamps starting at 0,
    in order; a late-starting stream begins with silence, so its sound stays where it was against
    the pictures."""
    rate = stream.rate
    framer = av.AudioResampler(format=stream.format.name, layout=LAYOUT, rate=rate,
                               frame_size=stream.codec_context.frame_size or 1024)
    if isinstance(sound, MixedSound):
        blocks, block_rate = sound.blocks(), sound.rate
    else:
        blocks, block_rate = audio_blocks(sound.path, sound.start_s, sound.end_s, rate, LAYOUT), rate
    written = 0
    for block in blocks:
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block, dtype=np.float32), format="fltp", layout=LAYOUT)
        frame.sample_rate = block_rate
        for g in framer.resample(frame):
            g.pts, written = written, written + g.samples
            yield from stream.encode(g)
    for g in framer.resample(None):
        g.pts, written = written, written + g.samples
        yield from stream.encode(g)
    yield from stream.encode(None)
