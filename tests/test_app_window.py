"""The main window driven like a user would: the real widgets, the real worker thread, the tiny
model (32x32 px, a few steps), and real video files made with PyAV."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QDockWidget
from test_app_fixtures import count_frames, make_clip, window  # noqa: F401 - the fixture

from t2vz_desktop.app.project import MediaItem, Project
from t2vz_desktop.engine.request import GenerationRequest
from t2vz_desktop.app.timeline import HEADER_W, RULER_H, TRACK_H
from t2vz_desktop.media import ExportOptions, export_video

ROOT = Path(__file__).resolve().parents[1]


def fill_panel(win, model: Path, frames: int = 4, steps: int = 3) -> None:
    panel = win.panel
    panel.prompt.setPlainText("a red circle on a blue background")
    panel.set_model(str(model))
    panel.frames.setValue(frames)
    panel.steps.setValue(steps)
    panel.seed.setValue(7)
    panel.seed_lock.setChecked(True)


def drop_files(widget, paths: list[Path], pos: QPoint) -> None:
    """What the file manager does: drag enter, then drop, with file URLs."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    QApplication.sendEvent(widget, QDragEnterEvent(pos, Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))
    QApplication.sendEvent(widget, QDropEvent(QPointF(pos), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))


def track_point(win, track_index: int, frame: float) -> QPoint:
    view = win.timeline
    return QPoint(int(HEADER_W + frame * view.ppf - view.scroll), RULER_H + track_index * TRACK_H + TRACK_H // 2)


def timeline_state(win) -> dict:
    return win.doc.project.to_dict()


def test_window_opens_fast_without_torch(tmp_path):
    code = (
        "import os, sys, time; os.environ['QT_QPA_PLATFORM'] = 'offscreen'; t = time.perf_counter();"
        "from PySide6.QtCore import QSettings; from PySide6.QtWidgets import QApplication, QDockWidget;"
        "from t2vz_desktop.app.window import MainWindow; from t2vz_desktop.app.theme import apply_dark_theme;"
        "app = QApplication([]); apply_dark_theme(app);"
        f"w = MainWindow(QSettings(r'{tmp_path}/s.ini', QSettings.IniFormat), __import__('pathlib').Path(r'{tmp_path}'));"
        "w.show(); app.processEvents(); print(time.perf_counter() - t);"
        "bad = [m for m in ('torch', 'diffusers', 't2vz_desktop.engine.jobs') if m in sys.modules]; assert not bad, bad;"
        "w.queue.shutdown()"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
    seconds = float(run.stdout.strip().splitlines()[-1])
    assert seconds < 4.0  # ~0.7 s on an idle 2-core machine; generous for a busy one


def test_generate_from_the_panel_previews_every_step_and_adds_a_clip(window, qtbot, tiny_folder, tmp_path):
    fill_panel(window, tiny_folder, frames=4, steps=3)
    steps: list[tuple[int, int]] = []
    shots = []

    def on_step(update):
        steps.append((update.step, update.total))
        assert update.preview.shape[0] == 4  # every frame's current estimate
        if not shots:
            shots.append(window.grab())
    window.queue.job_step.connect(on_step)
    with qtbot.waitSignal(window.queue.job_finished, timeout=120_000):
        qtbot.mouseClick(window.panel.generate_button, Qt.LeftButton)
        qtbot.waitUntil(lambda: window.monitor.previewing, timeout=120_000)
        assert len(window.monitor.strip.images) == 4
    total = steps[-1][1]
    assert [s for s, _ in steps] == list(range(1, total + 1))  # a preview after every step
    clips = [c for t in window.doc.project.tracks for c in t.clips]
    assert len(clips) == 1 and clips[0].length == 4
    item = window.doc.project.media[clips[0].media_id]
    assert item.generated and Path(item.path).is_file() and Path(item.path).with_suffix(".json").is_file()
    assert '"seed": 7' in item.recipe
    assert window.monitor.view.image is not None  # the monitor shows the new clip
    assert window.bin.count() == 1
    assert "Device: cpu" in window.device_label.text()
    shots[0].save(str(tmp_path / "during.png"))
    window.grab().save(str(tmp_path / "after.png"))
    assert (tmp_path / "during.png").stat().st_size > 1000

    # "Re-use settings" fills the panel from the clip's recipe
    window.panel.prompt.setPlainText("something else")
    window.panel.frames.setValue(9)
    window.reuse_settings(item.id)
    assert window.panel.prompt.toPlainText() == "a red circle on a blue background"
    assert (window.panel.frames.value(), window.panel.seed.value()) == (4, 7)


def test_cancel_mid_job_leaves_no_file_and_a_responsive_window(window, qtbot, tiny_folder):
    fill_panel(window, tiny_folder, frames=8, steps=40)
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(20)
    seen = []
    window.queue.job_step.connect(lambda u: (seen.append(u.step), window.queue.cancel() if u.step == 3 else None))
    started = time.perf_counter()
    with qtbot.waitSignal(window.queue.job_cancelled, timeout=120_000) as blocker:
        window.panel.request_generation()
    ticks = [started, *ticks, time.perf_counter()]
    timer.stop()
    job = blocker.args[0]
    assert job.state == "cancelled"
    assert not job.out_dir.exists() or list(job.out_dir.iterdir()) == []
    assert window.doc.project.duration == 0 and not window.doc.dirty
    assert max(seen) < 10  # stopped between steps, soon after the cancel
    # the GUI thread kept running its timers during the job (torch never ran on it)
    assert max(b - a for a, b in zip(ticks, ticks[1:])) < 0.5
    assert not window.monitor.previewing
    assert "cancelled" in window.messages[-1]


def test_a_failing_job_shows_a_clear_message_and_changes_nothing(window, qtbot, tmp_path):
    fill_panel(window, tmp_path / "no-such-model")
    with qtbot.waitSignal(window.queue.job_failed, timeout=60_000) as blocker:
        window.panel.request_generation()
    assert "no model at" in blocker.args[1]
    assert "no model at" in window.messages[-1]
    assert window.doc.project.duration == 0 and not window.doc.dirty
    assert window.isVisible()


def test_dropped_video_files_are_imported_and_a_corrupt_one_changes_nothing(window, qtbot, tmp_path):
    good = make_clip(tmp_path / "good.mp4", 8, 8, tone_hz=300)
    other = make_clip(tmp_path / "other.mkv", 6, 8)
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)

    drop_files(window.bin.viewport(), [good], QPoint(20, 20))
    qtbot.waitUntil(lambda: not window.imports.busy, timeout=3000)  # a drop imports in the background
    assert [m.name for m in window.doc.project.media.values()] == ["good.mp4"]
    assert window.doc.project.media and next(iter(window.doc.project.media.values())).has_audio
    assert window.bin.count() == 1

    gif = export_video((np.full((24, 32, 3), 40 * i, np.uint8) for i in range(5)), tmp_path / "anim.gif", ExportOptions(fps=10))
    drop_files(window.timeline, [other, gif.path], track_point(window, 0, 3))
    qtbot.waitUntil(lambda: not window.imports.busy, timeout=3000)  # a drop imports in the background
    top = window.doc.project.tracks[0]
    assert [(c.start, c.length) for c in top.clips] == [(3, 6), (9, 4)]  # the GIF: 5 frames at 10 fps -> 4 at 8

    # drag the bin's item onto the bottom track at frame 2
    mime = window.bin.mimeData([window.bin.item(0)])
    pos = track_point(window, 1, 2)  # QDragEnterEvent takes a QPoint, QDropEvent a QPointF (as in C++)
    QApplication.sendEvent(window.timeline, QDragEnterEvent(pos, Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))
    QApplication.sendEvent(window.timeline, QDropEvent(QPointF(pos), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))
    assert [(c.start, c.length) for c in window.doc.project.tracks[1].clips] == [(2, 8)]

    before = timeline_state(window)
    undo_steps = window.doc.undo.count()
    drop_files(window.timeline, [bad], track_point(window, 1, 0))
    qtbot.waitUntil(lambda: not window.imports.busy, timeout=3000)  # a drop imports in the background
    assert timeline_state(window) == before and window.doc.undo.count() == undo_steps
    assert "broken.mp4" in window.messages[-1]


def test_move_trim_split_with_the_mouse_then_undo_redo_restore_the_exact_state(window, qtbot, tmp_path):
    window.import_files([make_clip(tmp_path / "a.mp4", 16, 8)], window.doc.project.tracks[1].id, 0)
    view = window.timeline
    view.set_zoom(10)
    states = [timeline_state(window)]

    # move: drag the clip's middle 5 frames right and up one track
    qtbot.mousePress(view, Qt.LeftButton, pos=track_point(window, 1, 8))
    qtbot.mouseMove(view, track_point(window, 0, 13))
    qtbot.mouseRelease(view, Qt.LeftButton, pos=track_point(window, 0, 13))
    clip = window.doc.project.tracks[0].clips[0]
    assert (clip.start, clip.in_point, clip.out_point) == (5, 0, 16)
    states.append(timeline_state(window))

    # trim the left edge by 3 frames, then the right edge by 2
    qtbot.mousePress(view, Qt.LeftButton, pos=track_point(window, 0, 5) + QPoint(2, 0))
    qtbot.mouseMove(view, track_point(window, 0, 8) + QPoint(2, 0))
    qtbot.mouseRelease(view, Qt.LeftButton, pos=track_point(window, 0, 8) + QPoint(2, 0))
    assert (clip.start, clip.in_point, clip.out_point) == (8, 3, 16)
    states.append(timeline_state(window))
    qtbot.mousePress(view, Qt.LeftButton, pos=track_point(window, 0, 21) - QPoint(2, 0))
    qtbot.mouseMove(view, track_point(window, 0, 19) - QPoint(2, 0))
    qtbot.mouseRelease(view, Qt.LeftButton, pos=track_point(window, 0, 19) - QPoint(2, 0))
    assert (clip.start, clip.in_point, clip.out_point) == (8, 3, 14)
    states.append(timeline_state(window))

    # split at the playhead (clicked in the ruler) with the S key
    qtbot.mouseClick(view, Qt.LeftButton, pos=QPoint(int(HEADER_W + 12 * view.ppf), RULER_H // 2))
    assert view.playhead == 12
    view.setFocus()
    qtbot.keyClick(window, Qt.Key_S)
    assert [(c.start, c.end) for c in window.doc.project.tracks[0].clips] == [(8, 12), (12, 19)]
    states.append(timeline_state(window))

    for expected in reversed(states[:-1]):  # Ctrl+Z all the way back
        qtbot.keyClick(window, Qt.Key_Z, Qt.ControlModifier)
        assert timeline_state(window) == expected
    for expected in states[1:]:  # Ctrl+Shift+Z all the way forward
        qtbot.keyClick(window, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
        assert timeline_state(window) == expected

    # Delete removes the selected clip; Space plays and pauses
    view.select(window.doc.project.tracks[0].clips[1].id)
    qtbot.keyClick(window, Qt.Key_Delete)
    assert len(window.doc.project.tracks[0].clips) == 1
    view.set_playhead(8)
    qtbot.keyClick(window, Qt.Key_Space)
    assert window.play_timer.isActive()
    qtbot.waitUntil(lambda: view.playhead >= 10, timeout=5000)  # plays at the project's 8 fps
    qtbot.keyClick(window, Qt.Key_Space)
    assert not window.play_timer.isActive()


def test_snapping_to_clip_edges(window, qtbot, tmp_path):
    clip_file = make_clip(tmp_path / "a.mp4", 8, 8)
    bottom, top = window.doc.project.tracks[1].id, window.doc.project.tracks[0].id
    window.import_files([clip_file], bottom, 0)
    window.add_media_to_timeline(next(iter(window.doc.project.media)))  # a second copy, at 8..16
    view = window.timeline
    view.set_zoom(10)
    view.current_track = top
    first = window.doc.project.tracks[1].clips[0]
    # drag the first clip to the top track, ending 0.6 frames short of the other's start
    qtbot.mousePress(view, Qt.LeftButton, pos=track_point(window, 1, 4))
    qtbot.mouseMove(view, track_point(window, 0, 4 + 7.4))
    qtbot.mouseRelease(view, Qt.LeftButton, pos=track_point(window, 0, 4 + 7.4))
    assert first.start == 8  # snapped: its start meets the other clip's start edge


def test_tracks_can_be_added_removed_and_reordered_with_undo(window):
    names = lambda: [t.name for t in window.doc.project.tracks]  # noqa: E731
    window.add_track()
    assert names() == ["V3", "V2", "V1"]
    window.move_track(1)
    assert names() == ["V2", "V3", "V1"]
    window.remove_track()
    assert names() == ["V2", "V1"]
    for expected in (["V2", "V3", "V1"], ["V3", "V2", "V1"], ["V2", "V1"]):
        window.doc.undo.undo()
        assert names() == expected


def test_project_save_and_open_round_trip(window, qtbot, tmp_path):
    imported = make_clip(tmp_path / "imported.mp4", 8, 8)
    window.generated_dir().mkdir(parents=True)  # where the app writes what it generates
    generated = make_clip(window.generated_dir() / "gen.mp4", 6, 8)
    recipe = GenerationRequest(prompts=["x"]).to_json()
    generated.with_suffix(".json").write_text(recipe)
    window.import_files([imported], window.doc.project.tracks[1].id, 0)
    window.doc.edit("Add generated", lambda p: p.add_clip(p.tracks[0].id, p.add_media(
        MediaItem("gen1", str(generated), "gen.mp4", 64, 48, 8.0, 6, recipe=recipe, generated=True)).id, 4))
    path = tmp_path / "project" / "film.t2vz"
    path.parent.mkdir()
    assert window.save_project(path)
    assert not window.doc.dirty and window.recent_projects()[0] == str(path)
    copied = path.parent / "film_media" / "gen.mp4"
    assert copied.is_file() and copied.with_suffix(".json").is_file()  # generated media live beside it
    saved = timeline_state(window)

    window.new_project()
    assert window.doc.project.duration == 0
    assert window.open_project(path)
    assert timeline_state(window) == saved
    assert Project.load(path).to_dict(path.parent) == window.doc.project.to_dict(path.parent)
    assert not window.doc.project.offline_media()


def test_missing_media_on_open_is_reported_and_kept_offline(window, tmp_path):
    p = Project.new(64, 64, 8)
    p.add_media(MediaItem("m", str(tmp_path / "lost.mp4"), "lost.mp4", 64, 48, 8.0, 8))
    p.add_clip(p.tracks[-1].id, "m")
    p.save(tmp_path / "old.t2vz")
    assert window.open_project(tmp_path / "old.t2vz")
    assert "lost.mp4" in window.messages[-1]
    assert window.doc.project.media["m"].offline and window.doc.project.duration == 8
    window.show_playhead()  # an offline clip shows a placeholder, not a crash


def test_export_dialog_renders_a_two_clip_timeline(window, qtbot, tmp_path):
    window.import_files([make_clip(tmp_path / "a.mp4", 8, 8, tone_hz=440), make_clip(tmp_path / "b.webm", 8, 16)],
                        window.doc.project.tracks[1].id, 0)
    dialog = window.export_dialog()
    dialog.path.setText(str(tmp_path / "out.mp4"))
    with qtbot.waitSignal(dialog.worker.finished, timeout=60_000):
        qtbot.mouseClick(dialog.export_button, Qt.LeftButton)
    assert count_frames(tmp_path / "out.mp4") == 8 + 4
    assert dialog.progress.value() == 12
    dialog.preset.setCurrentIndex(3)  # GIF
    assert dialog.format.currentText() == "gif" and dialog.path.text().endswith("out.gif")
    with qtbot.waitSignal(dialog.worker.finished, timeout=60_000):
        dialog.start()
    assert count_frames(tmp_path / "out.gif") == 12

    # Cancel: pressed while the first frame is written (a direct connection runs on the worker)
    dialog.format.setCurrentText("webm")
    dialog.worker.progress.connect(dialog.cancel_or_close, Qt.DirectConnection)
    with qtbot.waitSignal(dialog.worker.cancelled, timeout=60_000):
        dialog.start()
    assert not (tmp_path / "out.webm").exists() and not list(tmp_path.glob(".out*"))
    assert "cancelled" in dialog.status.text() and dialog.export_button.isEnabled()
    dialog.close()


def test_autosave_and_recovery_after_a_crash(window, qtbot, tmp_path):
    window.import_files([make_clip(tmp_path / "a.mp4", 8, 8)], window.doc.project.tracks[1].id, 0)
    window.autosave()
    crashed = window.autosave_path.with_name("autosave-999999.t2vz")  # as if left by a dead process
    window.autosave_path.rename(crashed)
    window.new_project()
    assert window.check_recovery()
    assert window.doc.project.duration == 8 and window.doc.dirty
    assert not crashed.exists()


def test_close_asks_about_unsaved_changes_and_layout_is_remembered(window, qtbot, tmp_path):
    window.add_track()
    window.ask_unsaved = lambda: "cancel"
    window.close()
    assert window.isVisible()  # the user said cancel
    window.ask_unsaved = lambda: "discard"
    window.resize(760, 560)  # smaller than the default; Qt keeps at least the minimum width
    size = (window.width(), window.height())
    assert size[1] == 560
    window.findChild(QDockWidget, "media-dock").hide()
    window.close()
    assert not window.isVisible()
    assert window.settings.value("window/state") is not None

    from t2vz_desktop.app.window import MainWindow

    again = MainWindow(window.settings, tmp_path / "data2", window.queue)
    qtbot.addWidget(again)
    # Restored geometry is kept on the screen: a minimum width wider than the offscreen screen
    # (PySide6 6.11: 834 px on 800) comes back clamped to it.
    screen = again.screen().availableGeometry()
    assert abs(again.width() - min(size[0], screen.width())) <= 4 and abs(again.height() - size[1]) <= 4
    again.show()
    assert again.findChild(QDockWidget, "media-dock").isHidden()  # the dock layout came back too
    assert again.findChild(QDockWidget, "timeline-dock").isVisible()


def test_self_test_makes_a_clip_through_the_worker_thread(qtbot, tiny_folder, monkeypatch, capsys):
    import torch

    from t2vz_desktop.app import main as app_main

    threads = torch.get_num_threads()
    try:
        assert app_main.main(["--self-test", "--model", str(tiny_folder)]) == 0
        out = capsys.readouterr().out
        assert "self-test: OK - 4 frames 32x32" in out and "self-test: first-run check: gpu " in out
        monkeypatch.setattr("t2vz_desktop.app.panel.demo_model_present", lambda: False)
        assert app_main.main(["--self-test"]) == 1  # no demo model: a message, not a crash
        assert "demo model is missing" in capsys.readouterr().err
    finally:
        torch.set_num_threads(threads)


def test_a_worker_whose_engine_cannot_load_still_reports_the_failure(monkeypatch, tmp_path):
    import sys

    from t2vz_desktop.app.worker import GenerationWorker, Job

    def broken_engine(job):
        raise ImportError("torch is broken here")

    worker = GenerationWorker()
    failures = []
    worker.failed.connect(lambda job_id, message: failures.append(message))
    monkeypatch.setattr(worker, "_generate", broken_engine)
    monkeypatch.setitem(sys.modules, "t2vz_desktop.engine.jobs", None)  # importing it now fails too
    worker.run(Job("j1", {"prompts": ["x"]}, tmp_path))
    assert failures and "could not be loaded" in failures[0] and "torch is broken here" in failures[0]


def test_a_worker_refuses_a_bad_input_before_it_loads_a_model(tmp_path):
    """The engine's pre-flight runs before any load: a missing start image is refused at once,
    the status bar never says a model was loaded, and the cache stays empty."""
    from t2vz_desktop.app.worker import GenerationWorker, Job
    from t2vz_desktop.engine.jobs import ModelCache

    cache = ModelCache(1)
    worker = GenerationWorker(cache=cache)
    failures, loaded = [], []
    worker.failed.connect(lambda job_id, message: failures.append(message))
    worker.loaded.connect(lambda device, model: loaded.append(model))
    worker.run(Job("j1", {"prompts": ["x"], "model": "demo", "frames": 2,
                          "init_image": str(tmp_path / "missing.png")}, tmp_path))
    assert failures and "missing.png" in failures[0]
    assert loaded == [] and cache.loaded() == []


def test_delete_in_the_job_queue_leaves_the_timeline_alone(window, qtbot, tmp_path):
    """B4: Delete pressed with the queue list focused deleted the selected timeline clip."""
    window.import_files([make_clip(tmp_path / "a.mp4", 8, 8)], window.doc.project.tracks[-1].id, 0)
    clip = window.doc.project.tracks[-1].clips[0]
    window.timeline.select(clip.id)
    window.activateWindow()
    window.panel.queue.setFocus()
    qtbot.keyClick(window.panel.queue, Qt.Key_Delete)
    qtbot.keyClick(window.panel.queue, Qt.Key_Backspace)
    assert [c.id for c in window.doc.project.tracks[-1].clips] == [clip.id]
    window.timeline.setFocus()
    qtbot.keyClick(window.timeline, Qt.Key_Delete)  # in the timeline it still deletes
    assert window.doc.project.tracks[-1].clips == []
    window.doc.undo.undo()
    window.timeline.select(clip.id)
    window.bin.setCurrentRow(0)
    window.bin.setFocus()
    asked = []
    window.ask_remove_used_media = lambda name, clips: asked.append((name, clips)) or False
    qtbot.keyClick(window.bin, Qt.Key_Delete)  # in the bin: the media, not the clip selected on the timeline
    assert asked == [("a.mp4", 1)] and len(window.doc.project.media) == 1  # in use: asked, and the user said no
    window.ask_remove_used_media = lambda name, clips: True
    qtbot.keyClick(window.bin, Qt.Key_Delete)
    assert window.doc.project.media == {} and window.doc.project.tracks[-1].clips == []


def test_the_wheel_over_the_generate_panel_scrolls_it_and_changes_no_value(window, qtbot):
    """B6: the wheel over an unfocused spin box changed it (Steps "auto" became 1) instead of
    scrolling the panel. Now the box ignores it, and Qt hands an ignored wheel event from the
    system to the parent, the panel's scroll area (a sent event is not handed on, so the test
    checks the ignore; xdotool's wheel in a real X server scrolled the panel). A focused box
    still takes the wheel."""
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QWheelEvent

    steps, scheduler = window.panel.steps, window.panel.scheduler
    before = (steps.value(), scheduler.currentIndex())

    def wheel(widget, notches: int) -> bool:
        centre = QPointF(widget.rect().center())
        event = QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(0, 0),
                            QPoint(0, -120 * notches), Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False)
        QApplication.sendEvent(widget, event)
        return event.isAccepted()

    window.panel.prompt.setFocus()
    assert not wheel(steps, 1) and not wheel(scheduler, 1), "the wheel did not go on to the scroll area"
    assert (steps.value(), scheduler.currentIndex()) == before
    steps.setFocus()
    assert wheel(steps, -1) and steps.value() != before[0]  # wheel up on the focused box: it steps


def test_timecode_reads_hours_minutes_seconds_frames_on_the_clock(window, tmp_path):
    """B9: a 1.5 s clip read "00:01:04" (MM:SS:FF, which reads as a minute) and 29.97 fps
    counted 30 frames to a second, drifting from the clock."""
    from t2vz_desktop.app.monitor import timecode

    assert timecode(12, 8) == "00:00:01:04"
    assert timecode(8 * 3661 + 3, 8) == "01:01:01:03"
    ntsc = 30000 / 1001
    hour = math.ceil(3600 * ntsc)  # the first frame shown an hour in
    assert timecode(hour, ntsc) == "01:00:00:00" and timecode(hour - 1, ntsc) == "00:59:59:29"
    assert timecode(30, ntsc) == "00:00:01:00" and timecode(29, ntsc) == "00:00:00:29"
    window.import_files([make_clip(tmp_path / "a.mp4", 12, 8)], window.doc.project.tracks[-1].id, 0)
    window.timeline.set_playhead(12)
    assert window.monitor.timecode.text() == "00:00:01:04 / 00:00:01:04"


def test_nine_tracks_scroll_under_the_ruler_and_the_monitor_keeps_its_size(window, qtbot, tmp_path):
    """B7: with 9 tracks the timeline grew the window past the screen and squeezed the monitor to
    ~100 px; now the tracks scroll (scroll bar, wheel over the headers) under a fixed ruler."""
    window.resize(1360, 860)
    monitor_before = window.monitor.height()
    for _ in range(7):
        window.add_track()
    view = window.timeline
    qtbot.waitUntil(lambda: view.max_scroll_y() > 0, timeout=3000)
    assert len(window.doc.project.tracks) == 9
    assert window.height() <= 860 and window.monitor.height() >= monitor_before - 10
    bottom = window.doc.project.tracks[-1]
    assert view.track_y(bottom.id) + TRACK_H > view.height()  # the bottom track is out of view
    panel = view.parentWidget()
    assert panel.vbar.isVisible() and panel.vbar.maximum() == view.max_scroll_y()
    panel.vbar.setValue(panel.vbar.maximum())  # scrolled to the end: the bottom track shows
    assert view.track_y(bottom.id) + TRACK_H <= view.height()
    assert view.track_at_y(RULER_H - 1) is None  # the ruler covers the tracks scrolled under it
    window.import_files([make_clip(tmp_path / "a.mp4", 8, 8)], bottom.id, 0)
    clip = bottom.clips[0]
    assert view.hit(view.x_of(2), view.track_y(bottom.id) + TRACK_H // 2)[:2] == (clip, bottom.id)  # clicks land
    top = window.doc.project.tracks[0]
    assert view.track_y(top.id) < RULER_H
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QWheelEvent

    over_headers = QPointF(HEADER_W / 2, view.height() / 2)
    event = QWheelEvent(over_headers, QPointF(view.mapToGlobal(over_headers.toPoint())), QPoint(0, 0),
                        QPoint(0, 120 * 20), Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False)
    QApplication.sendEvent(view, event)  # wheel up over the headers: back to the top
    assert view.scroll_y == 0 and panel.vbar.value() == 0 and view.track_y(top.id) == RULER_H


def crash_with_unsaved_work(window, tmp_path) -> tuple[Path, Path]:
    """A saved project, then an unsaved change autosaved by a session that died."""
    project = tmp_path / "film.t2vz"
    window.import_files([make_clip(tmp_path / "a.mp4", 8, 8)], window.doc.project.tracks[1].id, 0)
    window.save_project(project)
    window.import_files([make_clip(tmp_path / "b.mp4", 4, 8)], window.doc.project.tracks[1].id, 8)
    time.sleep(0.01)
    window.autosave()
    crashed = window.autosave_path.with_name("autosave-999999.t2vz")
    window.autosave_path.rename(crashed)
    window.autosave_path.with_suffix(".origin").rename(crashed.with_suffix(".origin"))
    window.new_project()
    return project, crashed


def test_started_with_a_project_file_after_a_crash_recovery_is_offered(window, tmp_path):
    """B5: `t2vz-desktop film.t2vz` after a crash opened the saved version silently and left the
    autosave behind; recovery was offered on a plain start only."""
    project, crashed = crash_with_unsaved_work(window, tmp_path)
    asked = []
    window.ask_recover = lambda path: asked.append(path) or True
    window.start_with(project)
    assert asked == [crashed]
    assert window.doc.project.duration == 12 and window.doc.dirty  # the crash's unsaved work
    assert window.recovered_from == project.resolve() and not crashed.exists()


def test_a_declined_recovery_opens_the_saved_file_and_discards_the_autosave(window, tmp_path):
    project, crashed = crash_with_unsaved_work(window, tmp_path)
    other = crashed.with_name("autosave-999998.t2vz")  # another project's crash: not this start's business
    other.write_text(crashed.read_text())
    other.with_suffix(".origin").write_text(str(tmp_path / "other.t2vz"))
    window.ask_recover = lambda path: False
    window.start_with(project)
    assert window.doc.path == project and window.doc.project.duration == 8 and not window.doc.dirty
    assert not crashed.exists() and other.exists()


def test_the_recovery_question_names_the_project_and_the_autosaves_time(window, tmp_path, monkeypatch):
    from datetime import datetime

    from PySide6.QtWidgets import QMessageBox

    from t2vz_desktop.app.window_messages import MessagesMixin

    project, crashed = crash_with_unsaved_work(window, tmp_path)
    shown = []
    monkeypatch.setattr(QMessageBox, "exec", lambda box: shown.append(box.text()) or 0)
    assert not MessagesMixin.ask_recover(window, crashed)  # closed without a choice: not recovered
    when = datetime.fromtimestamp(crashed.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
    assert "film.t2vz" in shown[0] and when in shown[0]


def test_a_new_user_sees_what_to_do_and_where(window, qtbot, tmp_path, monkeypatch):
    """The monitor was black with no hint before the first clip; the Generate button sat below
    the fold of the scrolling panel at the default size; the import dialog opened in the
    process's working directory."""
    from t2vz_desktop.app.window import BIN_HINT, EMPTY_HINT

    assert window.monitor.view.placeholder == EMPTY_HINT
    window.resize(1360, 620)  # a laptop screen: the panel scrolls
    qtbot.waitUntil(lambda: not window.panel.generate_button.visibleRegion().isEmpty(), timeout=3000)
    assert not window.panel.cancel_button.visibleRegion().isEmpty()

    monkeypatch.chdir(tmp_path)
    assert window.import_folder() != str(tmp_path)  # the videos folder or home, not where it was started
    opened = []
    chosen = tmp_path / "footage" / "a.mp4"
    chosen.parent.mkdir()
    make_clip(chosen, 8, 8)
    monkeypatch.setattr("t2vz_desktop.app.window_import.QFileDialog.getOpenFileNames",
                        lambda parent, title, folder, filters: opened.append(folder) or ([str(chosen)], ""))
    window.import_dialog()
    window.import_dialog()
    assert opened[1] == str(chosen.parent)  # the second time: the folder imported from
    assert window.monitor.view.placeholder == BIN_HINT  # in the bin, not yet on the timeline
    window.add_media_to_timeline(next(iter(window.doc.project.media)))
    assert window.monitor.view.placeholder == ""  # there is a clip to show now


def test_recovered_work_survives_a_second_crash_and_names_its_project(window, tmp_path):
    """Recovery deleted the autosave and wrote none until the next change: a second crash lost the
    recovered work. The title said Untitled."""
    project, crashed = crash_with_unsaved_work(window, tmp_path)
    window.start_with(None)
    assert window.autosave_path.exists()  # written at once
    assert window.autosave_path.with_suffix(".origin").read_text() == str(project.resolve())
    assert window.windowTitle().startswith("film.t2vz (recovered)")
    again = window.autosave_path.with_name("autosave-999997.t2vz")  # the second crash
    window.autosave_path.rename(again)
    window.autosave_path.with_suffix(".origin").rename(again.with_suffix(".origin"))
    window.new_project()
    assert window.windowTitle().startswith("Untitled")
    window.start_with(project)
    assert window.doc.project.duration == 12 and window.doc.dirty


def test_the_playhead_steps_no_further_than_the_end(window, tmp_path):
    window.import_files([make_clip(tmp_path / "a.mp4", 8, 8)], window.doc.project.tracks[-1].id, 0)
    window.timeline.set_playhead(7)
    for _ in range(3):
        window.step_playhead(1)
    assert window.timeline.playhead == 8 and window.monitor.timecode.text() == "00:00:01:00 / 00:00:01:00"


def test_the_greyed_motion_is_the_motion_the_job_will_use(window):
    """With "paper default" ticked the fields showed dx 4, dy 0 while the demo model's clip moved
    1.5, 1.5 px a frame; unticking then silently changed the motion."""
    panel = window.panel
    panel.set_model("demo")
    assert panel.motion_auto.isChecked() and (panel.dx.value(), panel.dy.value()) == (1.5, 1.5)
    panel.width_box.setValue(512)
    assert (panel.dx.value(), panel.dy.value()) == (12.0, 1.5)  # 12 px at 512 px wide, 1.5 at 64 px high
    panel.motion_auto.setChecked(False)
    assert panel.fields()["motion"] == (12.0, 1.5)


def test_the_greyed_motion_follows_an_sdxl_models_own_size(window, tmp_path):
    """The panel assumed 512 px for every model but the demo: an SDXL model (1024 px, where the
    engine moves 24 px a frame by default) showed 12, 12."""
    import shutil

    from t2vz_desktop.engine.paths import resources_dir

    folder = tmp_path / "xl"
    shutil.copytree(resources_dir() / "configs" / "sdxl", folder)  # configurations are what the panel reads
    panel = window.panel
    panel.set_model(str(folder))
    assert (panel.dx.value(), panel.dy.value()) == (24.0, 24.0)
