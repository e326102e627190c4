"""Sound while playing, without Qt: the timeline's mixed sound (render.mix_window, the export's
own mixer) fed to an audio output block by block, and the clock the picture follows.

The output is the master clock, as in any player: the monitor shows the frame of the sample being
heard (`Player.position_s`), so the picture keeps to the sound even when the GUI thread is late.
With a sound device the output is a PortAudio stream (sounddevice); without one (these machines,
CI, a system without libportaudio2) a NullSink consumes samples in real time, so playback runs on
the same clock, silently. Mixing runs on a worker thread ahead of the output; the output's
callback only copies ready blocks.
"""

from __future__ import annotations

import os
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from typing import Protocol

import numpy as np

from .project import Project
from .render import AUDIO_RATE, mix_window

RATE = AUDIO_RATE  # samples a second, of every block here
SCRUB_S = 0.08  # a scrub snippet's length, seconds: long enough to hear, short enough to follow a drag

# A source hands out the next n samples, (2, n) float32, or None once it has no more.
Source = Callable[[int], "np.ndarray | None"]


class AudioClock(Protocol):
    def position_s(self) -> float:
        """Seconds on the timeline's clock of the sample being heard now."""


class MixFeed:
    """Timeline samples [first, last) mixed ahead on a worker thread, BLOCK samples at a time and
    up to AHEAD blocks in advance, handed out by `read` without waiting: a block not mixed in
    time is heard as silence (as a device underruns) and counted in `underruns`."""

    BLOCK = RATE // 5  # 0.2 s: one file open and seek per clip per block stays far under its length
    AHEAD = 4

    def __init__(self, project: Project, first: int, last: int,
                 mix: Callable[[Project, int, int], np.ndarray | None] = mix_window):
        self.project, self.first, self.last, self._mix = project, first, last, mix
        self.underruns = 0
        self._ready: deque[np.ndarray] = deque()
        self._mixed = first  # the next sample the worker mixes
        self._handed = first  # the next sample read hands out
        self._head = np.zeros((2, 0), np.float32)  # what is left of the block being read
        self._late = 0  # samples handed out as silence because they were not mixed in time
        self._wake = threading.Condition()
        self._stopped = False
        self.primed = threading.Event()  # set once the first block is ready (or there is none)
        self._thread = threading.Thread(target=self._run, name="t2vz-mix", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stopped and len(self._ready) >= self.AHEAD:
                    self._wake.wait()
                if self._stopped or self._mixed >= self.last:
                    self.primed.set()
                    return
                a, b = self._mixed, min(self._mixed + self.BLOCK, self.last)
                project = self.project  # set_project may swap it between blocks
            block = self._mix(project, a, b)
            if block is None:
                block = np.zeros((2, b - a), np.float32)
            with self._wake:
                self._ready.append(block)
                self._mixed = b
            self.primed.set()

    def set_project(self, project: Project) -> None:
        """Mix what is not mixed yet from `project` (an edit while playing is heard within AHEAD
        blocks)."""
        with self._wake:
            self.project = project

    def read(self, n: int) -> np.ndarray | None:
        """The next n samples, (2, n) float32; None once all of [first, last) was handed out."""
        if self._handed >= self.last:
            return None
        n = min(n, self.last - self._handed)
        out = np.zeros((2, n), np.float32)
        got = 0
        with self._wake:
            while got < n or self._late:
                if not self._head.shape[1]:
                    if not self._ready:
                        break
                    self._head = self._ready.popleft()
                    self._wake.notify()
                if self._late:  # samples the output already played as silence: dropped, so the sound stays on the clock
                    drop = min(self._late, self._head.shape[1])
                    self._head, self._late = self._head[:, drop:], self._late - drop
                    continue
                take = min(n - got, self._head.shape[1])
                out[:, got : got + take] = self._head[:, :take]
                self._head = self._head[:, take:]
                got += take
            if got < n:
                self.underruns += 1
                self._late += n - got
        self._handed += n
        return out

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify_all()


class Sink(ABC):
    """An audio output that pulls samples from a source at RATE until it stops or the source ends."""

    @abstractmethod
    def start(self, source: Source) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    @abstractmethod
    def played(self) -> int:
        """Samples heard since start (0 before it)."""


class NullSink(Sink):
    """No device: a thread takes samples from the source as fast as a device would play them
    (by `now`, seconds, replaceable in tests) and drops them, after showing each block to `tap`
    (first sample's index since start, block)."""

    def __init__(self, tap: Callable[[int, np.ndarray], None] | None = None,
                 now: Callable[[], float] = time.monotonic, period_s: float = 0.005):
        self.tap, self.now, self.period_s = tap, now, period_s
        self._consumed = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, source: Source) -> None:
        self._thread = threading.Thread(target=self._run, args=(source, self.now()), name="t2vz-null-sink", daemon=True)
        self._thread.start()

    def _run(self, source: Source, started: float) -> None:
        while not self._stop.wait(self.period_s):
            due = int((self.now() - started) * RATE) - self._consumed
            if due <= 0:
                continue
            block = source(due)
            if block is None:
                return
            if self.tap is not None:
                self.tap(self._consumed, block)
            self._consumed += block.shape[1]

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(1.0)

    def played(self) -> int:
        return self._consumed


class DeviceSink(Sink):
    """The default sound device through PortAudio (sounddevice). Its callback runs on PortAudio's
    thread and only copies blocks the feed mixed ahead; played() counts what the device's clock
    says left the speaker (the buffer's DAC time against the stream's time), not what was handed
    over, so the picture is not ahead of the sound by the output latency."""

    def __init__(self, sd):
        self._sd = sd
        self._stream = None
        self._handed = 0  # samples given to the device before the latest callback's block
        self._dac = None  # stream time at which that block starts to be heard

    def start(self, source: Source) -> None:
        sd = self._sd

        def callback(outdata, frames, when, status) -> None:
            block = source(frames)
            if block is None:
                outdata.fill(0)
                raise sd.CallbackStop
            self._handed, self._dac = self._total, when.outputBufferDacTime
            self._total += frames
            outdata[:] = block.T

        self._total = 0
        self._stream = sd.OutputStream(samplerate=RATE, channels=2, dtype="float32", callback=callback)
        self._stream.start()

    def stop(self) -> None:
        if self._stream is not None:
            self._stream.abort()
            self._stream.close()
            self._stream = None

    def played(self) -> int:
        stream, dac = self._stream, self._dac
        if stream is None or dac is None:
            return 0
        ahead = round((stream.time - dac) * RATE)  # negative while the block still waits in the buffer
        return max(0, self._handed + ahead)


def open_device() -> Sink:
    """A sink on the default sound device; RuntimeError saying why there is none (sounddevice or
    its PortAudio library missing, or no output device)."""
    try:
        import sounddevice as sd
    except (ImportError, OSError) as e:  # OSError: the PortAudio library is not installed
        raise RuntimeError(f"no sound output: {e} (on Linux install libportaudio2)") from None
    try:
        sd.check_output_settings(samplerate=RATE, channels=2, dtype="float32")
    except Exception as e:  # noqa: BLE001 - PortAudioError or ValueError: no usable device
        raise RuntimeError(f"no sound output device ({e})") from None
    return DeviceSink(sd)


def open_output() -> tuple[Sink, str]:
    """The sound device when there is one, else a NullSink; and why there is none ('' if there is).
    T2VZ_SOUND=off keeps the device closed (the test suite sets it: its playheads make no noise)."""
    if os.environ.get("T2VZ_SOUND", "").lower() == "off":
        return NullSink(), "sound output is off (T2VZ_SOUND=off)"
    try:
        return open_device(), ""
    except RuntimeError as e:
        return NullSink(), str(e)


class Player:
    """Plays the timeline's sound from a time on and is playback's clock (AudioClock); plays
    short snippets while scrubbing. Volume and mute act on what is heard at once (gain applied as
    the output pulls), not on the mix, so the export stays at full level.

    `open_sink` gives a fresh output for each play or snippet (the device, else a NullSink);
    it is called on the feed's worker thread, as opening a device can take tens of ms."""

    def __init__(self, open_sink: Callable[[], tuple[Sink, str]] = open_output):
        self.open_sink = open_sink
        self.volume = 1.0  # 0..1, linear gain
        self.muted = False
        self.no_device = ""  # why the latest output was silent ('' while a device plays)
        self._start_s = 0.0
        self._feed: MixFeed | None = None
        self._sink: Sink | None = None
        self._lock = threading.Lock()
        self.playing = False

    def play(self, project: Project, start_s: float) -> None:
        """Play from `start_s` (seconds on the timeline) to the timeline's end."""
        self._begin(project, start_s, round(project.duration / project.fps * RATE))
        self.playing = True

    def scrub(self, project: Project, at_s: float, length_s: float = SCRUB_S) -> None:
        """Play `length_s` seconds of the timeline from `at_s` (ignored while playing)."""
        if self.playing:
            return
        first = round(at_s * RATE)
        self._begin(project, at_s, min(first + round(length_s * RATE), round(project.duration / project.fps * RATE)))

    def _begin(self, project: Project, start_s: float, last: int) -> None:
        self.stop()
        first = round(start_s * RATE)
        feed = MixFeed(project, first, max(first, last))
        with self._lock:
            self._feed, self._start_s = feed, start_s
        threading.Thread(target=self._open, args=(feed,), name="t2vz-sound-open", daemon=True).start()

    def _open(self, feed: MixFeed) -> None:
        feed.primed.wait(2.0)  # the first block before the first sample: no click of silence at the start
        sink, why = self.open_sink()
        with self._lock:  # started under the lock: a stop meanwhile finds the sink and stops it
            if self._feed is not feed:  # stopped or replaced while the output opened
                return
            self._sink, self.no_device = sink, why
            sink.start(lambda n: self._pull(feed, n))

    def _pull(self, feed: MixFeed, n: int) -> np.ndarray | None:
        block = feed.read(n)
        gain = 0.0 if self.muted else self.volume
        return block if block is None or gain == 1.0 else block * np.float32(gain)

    def set_project(self, project: Project) -> None:
        """An edit while playing: what is not mixed yet comes from `project`."""
        feed = self._feed
        if feed is not None:
            feed.set_project(project)

    def position_s(self) -> float:
        """The timeline time of the sample being heard (the start time until the output starts)."""
        sink = self._sink
        return self._start_s + (sink.played() / RATE if sink is not None else 0.0)

    def stop(self) -> None:
        with self._lock:
            feed, sink = self._feed, self._sink
            self._feed = self._sink = None
        self.playing = False
        if feed is not None:
            feed.stop()
        if sink is not None:
            sink.stop()
