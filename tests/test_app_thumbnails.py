"""Thumbnails are made off the GUI thread: importing a huge clip returns at once, the window keeps
repainting (a 50 ms timer keeps ticking) while the first frame is decoded, and the thumbnail
appears in the bin and on the timeline when it is ready."""

from __future__ import annotations

import threading

import numpy as np
from PySide6.QtCore import QTimer
from test_app_fixtures import make_clip, window  # noqa: F401 - the fixture

from t2vz_desktop.app import media_bin


def test_import_returns_and_the_gui_ticks_while_the_thumbnail_is_made(window, qtbot, tmp_path, monkeypatch):
    clip = make_clip(tmp_path / "big.mp4")
    release, decoding = threading.Event(), threading.Event()
    threads: list[int] = []

    def slow_first_frame(path, start=0, stop=None, step=1):
        threads.append(threading.get_ident())
        decoding.set()
        release.wait(5)  # an 8192x8192 frame: about a second of decoding
        yield np.full((48, 64, 3), (0, 200, 0), np.uint8)

    monkeypatch.setattr(media_bin, "iter_frames", slow_first_frame)
    ticks = []
    heartbeat = QTimer()
    heartbeat.timeout.connect(lambda: ticks.append(1))
    heartbeat.start(50)

    items = window.import_files([clip])  # the slot returns while the decode still waits
    assert len(items) == 1 and not release.is_set()
    qtbot.waitUntil(decoding.is_set, timeout=3000)
    qtbot.waitUntil(lambda: len(ticks) >= 4, timeout=3000)  # the event loop runs during the work
    assert window.bin.pending_thumbnails() == 1
    release.set()
    qtbot.waitUntil(lambda: window.bin.pending_thumbnails() == 0, timeout=5000)
    heartbeat.stop()
    assert threads and threads[0] != threading.get_ident()  # decoded on a pool thread
    icon = window.bin.item(0).icon().pixmap(media_bin.THUMB).toImage()
    centre = icon.pixelColor(icon.width() // 2, icon.height() // 2)
    assert (centre.red(), centre.green(), centre.blue()) == (0, 200, 0)  # the frame, not the placeholder
    assert window.bin.thumbnail_for(items[0]).toImage().pixelColor(56, 36).green() == 200


def test_a_huge_frame_thumbnail_keeps_its_picture(qtbot):
    """The fast shrink (cv2 area resize) letterboxes like before: a 2:1 frame fills the width."""
    from t2vz_desktop.app.images import thumbnail_image

    frame = np.zeros((2048, 4096, 3), np.uint8)
    frame[:, :2048] = (255, 0, 0)
    image = thumbnail_image(frame, 112, 72)
    assert (image.width(), image.height()) == (112, 72)
    left, right, bar = image.pixelColor(20, 36), image.pixelColor(90, 36), image.pixelColor(56, 2)
    assert (left.red(), left.green()) == (255, 0) and right.red() == 0 and bar.red() == 0  # 56 px tall, black bars


def test_a_clip_on_the_timeline_shows_its_picture_without_the_bins_bars(window, qtbot, tmp_path, monkeypatch):
    """A wide clip's bin tile is letterboxed to the tile; the timeline's thumbnail (cropped into the
    clip) had the same black bars above and below the picture."""
    monkeypatch.setattr(media_bin, "iter_frames", lambda *a, **k: iter([np.full((48, 192, 3), (0, 0, 220), np.uint8)]))
    [item] = window.import_files([make_clip(tmp_path / "wide.mp4")], window.doc.project.tracks[-1].id, 0)
    qtbot.waitUntil(lambda: window.bin.pending_thumbnails() == 0, timeout=5000)
    thumb = window.bin.thumbnail_for(item).toImage()
    assert abs(thumb.width() / thumb.height() - 4.0) < 0.1  # the frame's own 4:1, no bars
    assert thumb.pixelColor(thumb.width() // 2, 0).blue() == 220
    tile = window.bin.item(0).icon().pixmap(media_bin.THUMB).toImage()
    assert tile.pixelColor(tile.width() // 2, 2).blue() == 0  # the bin's tile keeps its bars
