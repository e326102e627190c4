"""Waveforms on the timeline's audio clips: each media file's peak envelope, computed once on a
pool thread and kept per file (memory only, as the bin's thumbnails are), and its drawing inside
an audio clip's box, the part of the file that the clip uses."""

from __future__ import annotations

import os
import sys
import weakref

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRectF, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QColor, QPainter, QPolygonF
from PySide6.QtWidgets import QWidget

from ..media import MediaError, audio_blocks
from .project import Clip, MediaItem

PEAK_RATE = 100  # envelope values a second of sound
DECODE_RATE = 16_000  # Hz: speech and music peaks survive it, and it decodes 3x less than 48 kHz
WAVE_COLOR = QColor(170, 235, 200, 190)


def peak_envelope(path: str) -> np.ndarray:
    """The largest |sample| (0..1, channels mixed to mono) in each 1/PEAK_RATE s of the file's
    sound, on its clip's clock (value k covers seconds [k / PEAK_RATE, (k + 1) / PEAK_RATE));
    float32, empty when the file has no readable sound. Decodes the whole file: call it off the
    GUI thread."""
    per = DECODE_RATE // PEAK_RATE  # samples a value
    peaks, carry = [], np.zeros(0, np.float32)
    try:
        for block in audio_blocks(path, 0.0, None, DECODE_RATE, "mono"):
            x = np.concatenate([carry, np.abs(block[0])])
            whole = len(x) // per * per
            peaks.append(x[:whole].reshape(-1, per).max(axis=1))
            carry = x[whole:]
    except MediaError:
        return np.zeros(0, np.float32)
    if carry.size:
        peaks.append(carry.max(keepdims=True))
    return np.concatenate(peaks).astype(np.float32) if peaks else np.zeros(0, np.float32)


class _Signals(QObject):
    done = Signal(object, object)  # key, envelope


class _EnvelopeJob(QRunnable):
    def __init__(self, key: tuple, signals: _Signals):
        super().__init__()
        self.key, self.signals = key, signals

    def run(self) -> None:
        try:
            peaks = peak_envelope(self.key[0])  # looked up when run, so tests can replace it
        except Exception:  # noqa: BLE001 - a bug: to the app's error report, and no waveform
            sys.excepthook(*sys.exc_info())
            peaks = np.zeros(0, np.float32)
        self.signals.done.emit(self.key, peaks)


class WaveformCache(QObject):
    """Envelopes by file (path, modification time and size: a replaced file is read again), made
    one at a time on a pool thread; `ready` fires as each comes in, and every widget that asked
    for one meanwhile repaints."""

    ready = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._peaks: dict[tuple, np.ndarray] = {}
        self._pending: set[tuple] = set()
        self._waiting: weakref.WeakSet[QWidget] = weakref.WeakSet()
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)  # one decode at a time: the GUI and the thumbnails keep a core
        self._signals = _Signals()  # no parent: a job may outlive the cache and still emit
        self._signals.done.connect(self._done)

    def peaks(self, item: MediaItem, asker: QWidget | None = None) -> np.ndarray | None:
        """The item's envelope, or None while it is being made (started here; `asker` repaints
        when it is ready)."""
        try:
            st = os.stat(item.path)
        except OSError:
            return None
        key = (item.path, st.st_mtime_ns, st.st_size)
        peaks = self._peaks.get(key)
        if peaks is not None:
            return peaks
        if asker is not None:
            self._waiting.add(asker)
        if key not in self._pending:
            self._pending.add(key)
            self._pool.start(_EnvelopeJob(key, self._signals))
        return None

    def pending(self) -> int:
        return len(self._pending)

    def wait(self, ms: int = -1) -> bool:
        """Block until every envelope asked for is made (tests and screenshots)."""
        return self._pool.waitForDone(ms)

    def _done(self, key: tuple, peaks: np.ndarray) -> None:
        self._pending.discard(key)
        self._peaks[key] = peaks
        self.ready.emit()
        for widget in list(self._waiting):
            widget.update()
        self._waiting = weakref.WeakSet()


_shared: WaveformCache | None = None


def shared_cache() -> WaveformCache:
    """The app's one cache: a file on several clips and tracks is read once."""
    global _shared
    if _shared is None:
        _shared = WaveformCache()
    return _shared


def paint_clip_waveform(p: QPainter, box: QRectF, item: MediaItem, clip: Clip, view: QWidget) -> None:
    """Draw, inside `box` (the clip on the audio lane, in view pixels), the envelope of the
    seconds of `item` that the clip plays, mirrored about the box's middle; only the columns
    inside the view are computed. Nothing until the envelope is made (`view` repaints then)."""
    peaks = shared_cache().peaks(item, view)
    left, right = max(box.left() + 1, 0.0), min(box.right() - 1, float(view.width()))
    if peaks is None or not len(peaks) or right - left < 1:
        return
    fps, ppf = view.project.fps, view.ppf
    columns = int(right - left)
    x = left + np.arange(columns + 1)
    # seconds of the source at each column edge: the clip's in point plus the distance into the box
    seconds = (clip.in_point + (x - box.left()) / ppf) / fps
    # value k of the envelope covers column i when the column's seconds reach into bucket k; past
    # the file's sound the envelope's zero sentinel (index len(peaks)) is drawn
    edges = np.clip((seconds * PEAK_RATE).astype(np.int64), 0, len(peaks))
    heights = np.maximum.reduceat(np.append(peaks, np.float32(0)), edges)[:-1]
    mid, half = box.center().y(), box.height() / 2 - 1
    top = [QPointF(float(x[i]), mid - heights[i] * half) for i in range(columns)]
    bottom = [QPointF(float(x[i]), mid + heights[i] * half) for i in reversed(range(columns))]
    p.save()
    p.setPen(WAVE_COLOR.darker(130))
    p.setBrush(WAVE_COLOR)
    p.drawPolygon(QPolygonF(top + bottom))
    p.restore()
