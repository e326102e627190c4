"""Importing: real-world files come in with the size, rate and length a player shows, unreadable
ones are refused with one message and change nothing, and the files are probed off the GUI thread
(the window keeps ticking, a slow import shows a progress dialog that can cancel it, a fast one
shows none, and closing the window mid-import leaves no thread behind)."""

from __future__ import annotations

import re
import threading
import time

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QPushButton
from test_app_fixtures import make_clip, window  # noqa: F401 - the fixture

from t2vz_desktop.app import importer, window_import
from t2vz_desktop.media import ACCEPTED, VIDEO_SUFFIXES


@pytest.fixture
def slow_probe(monkeypatch):
    """Make each probe take `slow_probe.seconds` (a file on a network share); records the files
    probed, the threads they ran on, and whether a probe is running."""
    real = importer.probe_file

    class Probe:
        def __init__(self):
            self.seconds = 1.0
            self.calls: list[str] = []
            self.threads: list[int] = []
            self.running, self.done = threading.Event(), threading.Event()

        def __call__(self, path):
            self.calls.append(path.name)
            self.threads.append(threading.get_ident())
            self.done.clear()
            self.running.set()
            time.sleep(self.seconds)
            self.running.clear()
            self.done.set()
            return real(path)

    probe = Probe()
    monkeypatch.setattr(importer, "probe_file", probe)
    return probe


def state(win) -> tuple[dict, int]:
    return win.doc.project.to_dict(), win.doc.undo.count()


def test_zoo_files_come_in_with_their_displayed_size_rate_and_length(window, media_zoo):
    seconds = []

    def timed_import(*args):
        started = time.perf_counter()
        media = window.import_files(*args)
        seconds.append(time.perf_counter() - started)
        return media

    [phone] = timed_import([media_zoo / "phone_rotate90.mp4"])
    assert (phone.width, phone.height) == (64, 96)  # portrait, as the phone shows it
    [vfr] = timed_import([media_zoo / "vfr_flash_beep.mp4"])
    assert (vfr.fps, vfr.frames) == (30, 60)
    assert window.doc.project.fps == 8
    track = window.doc.project.tracks[-1]
    [still] = timed_import([media_zoo / "one_frame_10s.mp4"], track.id, 0)
    assert [c.length for c in track.clips if c.media_id == still.id] == [80]  # 10 s at 8 fps
    [long] = timed_import([media_zoo / "1080p_3min.mkv"])
    assert seconds[-1] < 0.5 and long.frames == 5400 and (long.width, long.height) == (1920, 1080)
    # Imports this fast show no progress dialog. On a machine busy enough that one outlasts the
    # dialog's wait, the dialog is right to appear (the suite failed so with both cores taken).
    if max(seconds) < importer.PROGRESS_AFTER_MS / 1000:
        assert window.imports.dialogs_shown == 0


def test_unreadable_zoo_files_are_refused_with_one_message_and_change_nothing(window, media_zoo):
    for name in ("audio_only.mp4", "song_with_cover.mp4", "damaged_stsd.mp4"):
        before, messages = state(window), len(window.messages)
        assert window.import_files([media_zoo / name]) == []
        assert len(window.messages) == messages + 1 and name in window.messages[-1]
        assert state(window) == before
    assert window.doc.project.media == {}
    names = ("audio_only.mp4", "song_with_cover.mp4", "damaged_stsd.mp4")
    assert window.import_files([media_zoo / n for n in names]) == []
    # the status bar keeps the first line once the box is closed: it said only "Could not import:"
    assert window.statusBar().currentMessage() == "Could not import 3 files:"


def test_a_file_of_another_kind_is_refused_saying_what_is_accepted(window, tmp_path, monkeypatch):
    note = tmp_path / "notes.xyz"
    note.write_text("not a video")
    assert window.import_files([note]) == []
    assert "notes.xyz" in window.messages[-1] and f"not a video file this app reads ({ACCEPTED})" in window.messages[-1]

    offered = []
    monkeypatch.setattr(window_import.QFileDialog, "getOpenFileNames",
                        lambda parent, title, folder, filters: offered.append(filters) or ([], ""))
    window.import_dialog()
    videos = offered[0].split(";;")[0].replace("(", " ").replace(")", " ").split()
    assert all(f"*{s}" in videos and f"*{s.upper()}" in videos for s in VIDEO_SUFFIXES)


def test_the_gui_keeps_running_during_a_slow_import_which_shows_its_progress(window, qtbot, tmp_path, slow_probe):
    clip = make_clip(tmp_path / "slow.mp4")
    ticks, labels = [], []
    heartbeat = QTimer()
    heartbeat.timeout.connect(lambda: ticks.append(1))
    heartbeat.start(50)
    job = window.start_import([clip])  # what a drop does: returns at once
    assert not job.ended and window.doc.project.media == {}
    qtbot.waitUntil(lambda: window.imports.dialog is not None, timeout=1000)
    labels.append(window.imports.dialog.labelText())
    assert window.imports.dialog.isVisible()
    qtbot.waitUntil(lambda: job.ended, timeout=3000)
    heartbeat.stop()
    assert len(ticks) >= 5  # ~20 in the 1 s probe: the event loop was never blocked
    assert labels == ["Importing 1 of 1: slow.mp4"]
    assert slow_probe.threads[0] != threading.get_ident()
    assert [m.name for m in window.doc.project.media.values()] == ["slow.mp4"] and window.doc.undo.count() == 1
    assert window.imports.dialog is None and window.imports.dialogs_shown == 1


def test_a_fast_import_shows_no_progress_dialog(window, qtbot, tmp_path):
    assert len(window.import_files([make_clip(tmp_path / "a.mp4"), make_clip(tmp_path / "b.webm")])) == 2
    qtbot.wait(400)  # past the dialog's delay: the timer was stopped, not left to fire later
    assert window.imports.dialogs_shown == 0 and window.imports.dialog is None


def test_cancel_stops_after_the_file_being_probed_and_adds_nothing(window, qtbot, tmp_path, slow_probe):
    slow_probe.seconds = 0.8
    clips = [make_clip(tmp_path / f"{n}.mp4") for n in "abc"]
    before = state(window)

    def press_cancel():
        dialog = window.imports.dialog
        assert dialog is not None and dialog.labelText() == "Importing 1 of 3: a.mp4"
        [button] = [b for b in dialog.findChildren(QPushButton) if b.text() == "Cancel"]
        button.click()

    QTimer.singleShot(400, press_cancel)  # the dialog is up (300 ms), file a is still being probed
    t = time.perf_counter()
    assert window.import_files(clips) == []
    assert time.perf_counter() - t < 0.7  # the wait ends at the cancel, not when the probe does
    assert "Import cancelled: nothing was added." in window.messages[-1]
    qtbot.waitUntil(lambda: window.imports.running_threads() == 0, timeout=2000)
    qtbot.wait(50)  # the probe's late result arrives and is thrown away
    assert slow_probe.calls == ["a.mp4"] and state(window) == before and window.imports.dialog is None
    slow_probe.seconds = 0
    assert [i.name for i in window.import_files(clips[1:])] == ["b.mp4", "c.mp4"]  # the queue works on


def test_imports_started_together_wait_in_turn_each_one_undo_step(window, qtbot, tmp_path, slow_probe):
    slow_probe.seconds = 0.3
    a, b, c = (make_clip(tmp_path / f"{n}.mp4") for n in "abc")
    track = window.doc.project.tracks[-1].id
    first, second = window.start_import([a]), window.start_import([b, c], track, 0)
    qtbot.waitUntil(lambda: window.imports.dialog is not None, timeout=1000)
    assert re.fullmatch(r"Importing [123] of 3: [abc]\.mp4", window.imports.dialog.labelText())  # both imports
    qtbot.waitUntil(lambda: second.ended, timeout=3000)
    assert first.state == second.state == "done" and window.doc.undo.count() == 2
    assert [m.name for m in window.doc.project.media.values()] == ["a.mp4", "b.mp4", "c.mp4"]
    assert [(c.start, c.length) for c in window.doc.project.track(track).clips] == [(0, 8), (8, 8)]
    window.doc.undo.undo()  # the second import goes as a whole
    assert [m.name for m in window.doc.project.media.values()] == ["a.mp4"]


def test_opening_another_project_drops_the_import(window, qtbot, tmp_path, slow_probe):
    slow_probe.seconds = 0.3
    job = window.start_import([make_clip(tmp_path / "a.mp4")])
    qtbot.waitUntil(slow_probe.running.is_set, timeout=1000)
    window.new_project()
    assert job.state == "cancelled" and "another project was opened" in window.messages[-1]
    qtbot.waitUntil(lambda: window.imports.running_threads() == 0, timeout=2000)
    qtbot.wait(50)
    assert window.doc.project.media == {}


def test_closing_the_window_during_a_slow_import_leaves_no_thread(window, qtbot, tmp_path, slow_probe):
    clip = make_clip(tmp_path / "slow.mp4")
    QTimer.singleShot(200, window.close)  # while import_files waits and the probe sleeps
    assert window.import_files([clip]) == []
    assert not window.isVisible()
    assert slow_probe.done.is_set() and window.imports.running_threads() == 0  # joined, not left running
    qtbot.wait(50)  # any result still queued is thrown away
    assert window.doc.project.media == {} and window.doc.undo.count() == 0
