"""Screenshots for the README, made offscreen: `T2VZ_SCREENSHOTS=docs/screenshots pytest
tests/test_app_screenshots.py`. Skipped in ordinary runs. Uses the built-in demo model when it
is installed, else the tiny random test model (whose frames are noise)."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from test_app_fixtures import window  # noqa: F401 - the fixture
from test_app_window import fill_panel

from t2vz_desktop.app import waveform
from t2vz_desktop.app.panel import demo_model_present

OUT = os.environ.get("T2VZ_SCREENSHOTS")
pytestmark = pytest.mark.skipif(not OUT, reason="set T2VZ_SCREENSHOTS=folder to make the README screenshots")


def sunset_clip(path: Path, frames: int = 32, size: tuple[int, int] = (256, 160), sound: bool = True) -> Path:
    """A sky gradient with a sun going down, and a quiet tone: something worth looking at."""
    w, h = size
    y = np.linspace(0, 1, h)[:, None, None]
    sky = (np.array([250, 150, 60]) * (1 - y) + np.array([60, 30, 110]) * y).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    with av.open(str(path), "w") as box:
        video = box.add_stream("libx264", rate=Fraction(8))
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        audio = box.add_stream("aac", rate=48000, layout="mono") if sound else None
        for i in range(frames):
            image = np.broadcast_to(sky, (h, w, 3)).copy()
            cx, cy = w * 0.3 + i * 2, h * 0.3 + i * 2
            image[(xx - cx) ** 2 + (yy - cy) ** 2 < 18**2] = (255, 230, 120)
            image[int(h * 0.78):] = (20, 30, 60)
            frame = av.VideoFrame.from_ndarray(image.astype(np.uint8), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 8)
            box.mux(video.encode(frame))
        box.mux(video.encode(None))
        if audio is not None:
            n = 48000 * frames // 8
            t = np.arange(n) / 48000
            swell = 0.15 + 0.6 * np.abs(np.sin(np.pi * 1.3 * t)) ** 3  # phrases, so the waveform has a shape
            wave = (swell * np.sin(2 * np.pi * 220 * t)).astype(np.float32)[None]
            for k in range(0, n, 1024):
                piece = av.AudioFrame.from_ndarray(np.ascontiguousarray(wave[:, k : k + 1024]), format="fltp", layout="mono")
                piece.sample_rate, piece.pts = 48000, k
                box.mux(audio.encode(piece))
            box.mux(audio.encode(None))
    return path


def tiles_in(window, qtbot) -> None:
    """Wait until every thumbnail and filmstrip tile on the timeline is decoded (they come from
    a pool thread; a grab before shows grey placeholders)."""
    from PySide6.QtWidgets import QApplication

    for _ in range(3):  # a paint at a new zoom asks for new tiles
        window.timeline.grab()
        qtbot.waitUntil(lambda: window.bin.pending_thumbnails() == 0, timeout=30_000)
        QApplication.processEvents()


def test_main_window_screenshots(window, qtbot, tiny_folder, tmp_path):
    out = Path(OUT)
    out.mkdir(parents=True, exist_ok=True)
    window.resize(1360, 860)
    window.doc.edit("Format", lambda p: p.set_format(256, 160, 8))
    window.import_files([sunset_clip(tmp_path / "sunset.mp4")], window.doc.project.tracks[0].id, 12)
    demo = demo_model_present()
    fill_panel(window, "demo" if demo else tiny_folder, frames=8, steps=12 if demo else 8)
    window.panel.set_model("demo" if demo else str(tiny_folder))
    taken = []

    def on_step(update):
        if update.step == update.total // 2 and not taken:
            QApplication.processEvents()
            window.grab().save(str(out / "main-window-generating.png"))
            taken.append(update.step)
    window.queue.job_step.connect(on_step)
    from PySide6.QtWidgets import QApplication

    with qtbot.waitSignal(window.queue.job_finished, timeout=600_000):
        window.panel.request_generation()
    window.timeline.set_zoom(20)
    window.timeline.set_playhead(16)
    window.timeline.repaint()  # asks for the audio clip's waveform
    waveform.shared_cache().wait(30_000)
    tiles_in(window, qtbot)
    window.grab().save(str(out / "main-window.png"))
    dialog = window.export_dialog()
    QApplication.processEvents()
    dialog.grab().save(str(out / "export-dialog.png"))
    dialog.close()
    assert taken

    # keyframe lanes: keys added on the generated clip's lanes, the panel's tables and the camera path
    project, view = window.doc.project, window.timeline
    _, clip = project.find_clip(view.selected)
    media_id = clip.media_id
    for lane, frame in (("camera", 0), ("camera", 4), ("camera", 7), ("prompt", 5)):
        window.doc.edit("Add keyframe", lambda p, lane=lane, frame=frame: p.add_key(media_id, lane, frame))

    def shape(p):
        keys, size = p.keys(media_id, "camera"), p.media[media_id].width
        keys[1].update(pan=[-0.15 * size, 0.05 * size], zoom=1.3, ease="ease")
        keys[2].update(pan=[-0.25 * size, 0.1 * size], zoom=1.7, rotate=8.0)
        p._set_keys(p.media[media_id], "camera", keys)
        prompts = p.keys(media_id, "prompt")
        prompts[1]["prompt"] = "a red circle at night"
        p._set_keys(p.media[media_id], "prompt", prompts)
    window.doc.edit("Shape keys", shape)
    window.panel.apply_recipe(project.media[media_id].edited_recipe)
    view.selected_key = ("camera", 4)
    window.timeline.set_playhead(clip.start)
    view.set_zoom(48)
    view.set_scroll(0)
    QApplication.processEvents()
    bar = window.panel.parentWidget().parentWidget().verticalScrollBar()  # the panel's scroll area
    bar.setValue(window.panel.keyframes.y())
    tiles_in(window, qtbot)
    window.grab().save(str(out / "keyframe-lanes.png"))

    # Edit with... on the imported clip, with its condition preview
    sunset = next(c for t in project.tracks for c in t.clips if not project.media[c.media_id].generated)
    edit = window.edit_with(sunset.id)
    edit.prompt.setPlainText("a sunset over a frozen lake, oil painting")
    edit.preview_conditions()
    qtbot.waitUntil(lambda: len(edit.condition_images) > 0, timeout=60_000)
    QApplication.processEvents()
    edit.grab().save(str(out / "edit-with-dialog.png"))
    edit.reject()


def test_timeline_habits_screenshots(window, qtbot, tmp_path):
    """The timeline with markers, a filmstrip, a multi-selection and track switches; nine tracks
    scrolled; Help > Keyboard shortcuts (issue 23)."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication, QDockWidget

    out = Path(OUT)
    out.mkdir(parents=True, exist_ok=True)
    window.resize(1360, 860)
    window.resizeDocks([window.findChild(QDockWidget, "timeline-dock")], [330], Qt.Vertical)
    window.doc.edit("Format", lambda p: p.set_format(256, 160, 8))
    sunset = sunset_clip(tmp_path / "sunset.mp4")
    quiet = sunset_clip(tmp_path / "dusk.mp4", frames=24, sound=False)
    project = window.doc.project
    window.add_track()
    v1, v2, v3 = (t.id for t in reversed(project.tracks))
    window.import_files([sunset], v1, 0)
    window.import_files([quiet], v1, 40)
    window.import_files([quiet], v2, 16)
    window.import_files([sunset], v3, 52)
    for frame, name in ((0, "Opening"), (16, "Sun touches the sea"), (40, "Dusk"), (70, "Titles")):
        window.doc.edit("Add marker", lambda p, f=frame, n=name: p.add_marker(f, n))
    window.doc.edit("Lock track", lambda p: p.set_track_flag(v3, "locked", True))
    window.doc.edit("Mute track", lambda p: p.set_track_flag(v2, "muted", True))
    view = window.timeline
    view.set_selection({c.id for c in project.track(v1).clips})
    view.set_playhead(16)
    view.set_zoom(14)
    view.set_scroll(0)
    tiles_in(window, qtbot)
    waveform.shared_cache().wait(30_000)
    QApplication.processEvents()
    window.grab().save(str(out / "timeline-markers.png"))

    for _ in range(6):
        window.add_track()
    names = [t.name for t in project.tracks]
    for k, track in enumerate(project.tracks[:6]):
        window.import_files([quiet if k % 2 else sunset], track.id, 6 * k)
    assert len(names) == 9
    panel = view.parentWidget()
    panel.vbar.setValue(panel.vbar.maximum() // 2)
    view.select("")
    tiles_in(window, qtbot)
    panel.grab().save(str(out / "timeline-nine-tracks.png"))

    dialog = window.show_shortcuts()
    QApplication.processEvents()
    dialog.grab().save(str(out / "keyboard-shortcuts.png"))
    dialog.close()


def test_takes_grid_and_history_screenshots(window, qtbot):
    """Variations: a batch of four takes in the monitor's grid, two chosen; the History dock with
    two batches, searched by nothing and listed newest first (issue 24 items 2 and 3)."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication, QDockWidget

    if not demo_model_present():
        pytest.skip("the grid is only worth looking at with the demo model's pictures")
    out = Path(OUT)
    out.mkdir(parents=True, exist_ok=True)
    window.resize(1360, 860)
    window.doc.edit("Format", lambda p: p.set_format(64, 64, 8))
    panel = window.panel
    panel.set_model("demo")
    panel.frames.setValue(8)
    panel.steps.setValue(12)
    panel.seed_lock.setChecked(True)
    for prompt, seed in (("a green square on a white background", 40), ("a red circle on a blue background", 11)):
        panel.prompt.setPlainText(prompt)
        panel.seed.setValue(seed)
        panel.batch.setValue(4)
        with qtbot.waitSignal(window.queue.job_finished, timeout=600_000):
            panel.request_generation()
    grid = window.takes_grid
    grid.wait_for_frames(60_000)
    qtbot.waitUntil(lambda: len(grid.frames) == 4, timeout=30_000)
    grid.choose(1)
    grid.choose(3, add=True)
    grid.stop()
    for _ in range(4):  # a frame in, so the takes' motion shows
        grid._tick()
    QApplication.processEvents()
    window.grab().save(str(out / "takes-grid.png"))

    qtbot.mouseClick(grid.put_button, Qt.LeftButton)
    history = window.findChild(QDockWidget, "history-dock")
    window.resizeDocks([window.findChild(QDockWidget, "media-dock"), history], [150, 450], Qt.Vertical)
    window.resizeDocks([history], [400], Qt.Horizontal)
    window.history.select(window.doc.project.history[-1].item.id)
    window.bin.wait_for_thumbnails(30_000)
    qtbot.waitUntil(lambda: window.bin.pending_thumbnails() == 0, timeout=30_000)
    QApplication.processEvents()
    window.history.refresh_thumbnails()
    tiles_in(window, qtbot)
    window.grab().save(str(out / "history.png"))


def test_queue_and_preferences_screenshots(qtbot, tmp_path):
    """The job queue with a job in each state (issue 24 item 6) and Edit > Preferences (item 7)."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication
    from test_app_queue import shown_queue

    from t2vz_desktop.app.preferences import PreferencesDialog
    from t2vz_desktop.app.theme import apply_dark_theme
    from t2vz_desktop.app.worker import Job, StepUpdate

    apply_dark_theme(QApplication.instance())  # as the app looks
    out = Path(OUT)
    out.mkdir(parents=True, exist_ok=True)
    worker, queue, view = shown_queue(qtbot, width=340)
    titles = ["a lighthouse at dusk, waves rolling in", "a paper boat on a rainy street",
              "a red fox running through snow", "a hot air balloon over hills", "koi fish in a pond"]
    worker.fail_once.add(titles[1])
    jobs = [queue.submit(Job(f"j{i}", {"prompts": [t], "model": "demo"}, tmp_path)) for i, t in enumerate(titles)]
    worker.gate(titles[0]).set()
    worker.gate(titles[1]).set()
    qtbot.waitUntil(lambda: jobs[2].state == "running", timeout=20_000)
    y, x = np.mgrid[0:40, 0:64]
    preview = np.stack([200 + 0 * x, 90 + y * 2, 40 + x], -1).astype(np.uint8)[None]  # a warm gradient
    view.show_step(StepUpdate(jobs[2].id, 12, 20, "denoise", preview, 6.0, 14.0))
    qtbot.wait(50)
    view.grab().save(str(out / "queue.png"))
    for gate in list(worker.gates.values()):
        gate.set()
    queue.shutdown()

    dialog = PreferencesDialog(QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    qtbot.addWidget(dialog)
    dialog.resize(380, 130)
    dialog.show()
    dialog.grab().save(str(out / "preferences.png"))
