"""Waveforms on the timeline's audio clips: each file's peak envelope, made off the GUI thread and
kept per file, drawn in the clip's box on the audio lane."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import QTimer
from test_app_fixtures import window  # noqa: F401 - the fixture

from t2vz_desktop.app import waveform
from t2vz_desktop.app.project import MediaItem
from t2vz_desktop.app.timeline_paint import AUDIO_H
from t2vz_desktop.app.waveform import PEAK_RATE, WaveformCache, peak_envelope


def test_the_beep_clip_envelope_is_high_at_the_beep_and_low_before(media_zoo):
    peaks = peak_envelope(str(media_zoo / "vfr_flash_beep.mp4"))
    assert len(peaks) == pytest.approx(2.0 * PEAK_RATE, abs=2)  # 2 s of sound, 100 values a second
    beep = round(1.0 * PEAK_RATE)
    assert peaks[: beep - 2].max() < 0.01  # silence before 1.0 s
    assert peaks[beep + 1 : beep + 9].min() > 0.3  # the beep, 1.0-1.1 s
    assert peaks[beep + 12 :].max() < 0.01  # and silence after it


def test_a_late_audio_stream_keeps_its_place_in_the_envelope(media_zoo):
    peaks = peak_envelope(str(media_zoo / "audio_delayed_0p5s.mp4"))
    assert peaks[: round(0.95 * PEAK_RATE)].max() < 0.01
    assert peaks[round(1.01 * PEAK_RATE) : round(1.1 * PEAK_RATE)].min() > 0.3


def test_a_file_without_sound_has_an_empty_envelope(media_zoo):
    assert len(peak_envelope(str(media_zoo / "fullrange_yuvj420p.mp4"))) == 0


def test_the_gui_keeps_running_while_an_envelope_is_made_and_each_file_is_read_once(qtbot, media_zoo, monkeypatch):
    calls = []

    def slow(path):
        calls.append(path)
        time.sleep(0.6)  # a long file's decode
        return np.ones(10, np.float32)

    monkeypatch.setattr(waveform, "peak_envelope", slow)
    cache = WaveformCache()
    item = MediaItem("m", str(media_zoo / "vfr_flash_beep.mp4"), "beep", 64, 64, 30, 60, True)
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start(10)
    started = time.monotonic()
    assert cache.peaks(item) is None  # asked: made elsewhere, nothing yet
    assert time.monotonic() - started < 0.05  # the asking did not wait for it
    with qtbot.waitSignal(cache.ready, timeout=5000):
        pass
    timer.stop()
    assert len(ticks) >= 20  # the GUI thread's timer kept firing during the 0.6 s decode
    assert np.array_equal(cache.peaks(item), np.ones(10))
    assert cache.peaks(item) is not None and calls == [item.path]  # cached: read once


def test_waveform_is_drawn_on_the_audio_lane(window, qtbot, media_zoo):
    window.doc.edit("Format", lambda p: p.set_format(64, 64, 30))
    window.import_files([media_zoo / "vfr_flash_beep.mp4"], window.doc.project.tracks[-1].id, 0)
    view = window.timeline
    view.set_zoom(8)  # px a frame: the 2 s clip is 480 px wide
    view.set_scroll(0)
    view.repaint()  # asks for the envelope
    waveform.shared_cache().wait(10_000)
    qtbot.waitUntil(lambda: waveform.shared_cache().pending() == 0, timeout=5000)
    image = view.grab().toImage()
    y = view.tracks_bottom() + AUDIO_H // 2 - 4  # above the middle: only a loud envelope reaches it

    def green(frame: int) -> int:
        return image.pixelColor(int(view.x_of(frame)) + 2, y).green()

    assert green(31) > 200  # the beep (1.0-1.1 s): the envelope's light colour
    assert green(15) < 160  # 0.5 s, silence: the clip's own darker green
