"""Edit > Preferences...: "Show AI generation features" off leaves an editor only (no Generate
dock, queue, Generate menu or toolbar button, Edit with..., Re-generate), kept across restarts;
on brings them back. Import, timeline and export work either way."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDockWidget, QToolBar

from t2vz_desktop.app.preferences import AI_KEY, open_preferences
from t2vz_desktop.app.window import EDITOR_HINT
from test_app_fixtures import make_clip, window  # noqa: F401 - the fixture


def visible_texts(menu) -> set[str]:
    return {a.text() for a in menu.actions() if a.isVisible() and a.text()}


def generation_shown(win) -> dict[str, bool]:
    """Every place generation shows, and whether it does."""
    dock = win.findChild(QDockWidget, "generate-dock")
    bar = {a.text().replace("&", ""): a for a in win.menuBar().actions()}
    toolbar = win.findChild(QToolBar, "main-toolbar")
    clip = win.doc.project.tracks[-1].clips[0]
    win.timeline.select(clip.id)
    return {
        "dock": dock.isVisible(),
        "view menu entry": dock.toggleViewAction().isVisible(),
        "Generate menu": bar["Generate"].isVisible(),
        "toolbar Generate": win.actions_by_name["generate"] in toolbar.actions()
        and win.actions_by_name["generate"].isVisible(),
        "Generate shortcut": win.actions_by_name["generate"].isEnabled(),
        "timeline Edit with": "Edit with..." in visible_texts(win.timeline_menu("clip")),
        "timeline Animate": "Animate this frame" in visible_texts(win.timeline_menu("clip")),
        "bin Edit with": "Edit with..." in visible_texts(win.bin.context_menu(win.bin.item(0))),
        "monitor Path": not win.monitor.show_camera.isHidden(),  # a newcomer found these two left
        "monitor Mask": not win.monitor.show_mask.isHidden(),
        "keyframe lanes": win.timeline.show_lanes,
    }


def set_ai(win, on: bool) -> None:
    dialog = open_preferences(win)
    assert dialog.ai.isChecked() != on
    dialog.ai.setChecked(on)
    dialog.accept()


def reopen(qtbot, old, tmp_path):
    """Close `old` (its layout and preferences saved) and start a new window on the same settings."""
    from t2vz_desktop.app.window import MainWindow

    old.close()
    win = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat), tmp_path / "data2", old.queue)
    win.ask_unsaved = lambda: "discard"
    win.ask_match_format = lambda offer: False
    qtbot.addWidget(win)
    win.show()
    return win


def test_ai_features_off_leaves_an_editor_and_stays_off_after_a_restart(window, qtbot, tmp_path):
    window.import_files([make_clip(tmp_path / "a.mp4", 8, 8)], window.doc.project.tracks[-1].id, 0)
    assert set(generation_shown(window).values()) == {True}  # on by default

    set_ai(window, False)
    assert not any(generation_shown(window).values()), generation_shown(window)
    assert window.settings.value(AI_KEY, type=bool) is False
    # Ctrl+Return queues nothing: its action is off, not only out of sight
    window.panel.prompt.setPlainText("a red circle")
    qtbot.keyClick(window, Qt.Key_Return, Qt.ControlModifier)
    assert window.queue.jobs == []
    # the editor works: import, edit, export
    window.import_files([make_clip(tmp_path / "b.mp4", 8, 8)], window.doc.project.tracks[-1].id, 8)
    assert window.doc.project.duration == 16
    dialog = window.export_dialog()
    assert dialog is not None and dialog.isVisible()
    dialog.reject()

    again = reopen(qtbot, window, tmp_path)
    # a new window's empty monitor points at File > Import, not at the hidden Generate panel
    assert not again.doc.project.media and again.monitor.view.placeholder == EDITOR_HINT
    again.import_files([make_clip(tmp_path / "c.mp4", 8, 8)], again.doc.project.tracks[-1].id, 0)
    assert not any(generation_shown(again).values()), "the switch did not survive the restart"

    set_ai(again, True)
    assert set(generation_shown(again).values()) == {True}
    third = reopen(qtbot, again, tmp_path)
    third.import_files([make_clip(tmp_path / "d.mp4", 8, 8)], third.doc.project.tracks[-1].id, 0)
    assert set(generation_shown(third).values()) == {True}, generation_shown(third)


def test_cancelling_the_preferences_changes_nothing(window, tmp_path):
    window.import_files([make_clip(tmp_path / "a.mp4", 8, 8)], window.doc.project.tracks[-1].id, 0)
    dialog = open_preferences(window)
    dialog.ai.setChecked(False)
    dialog.reject()
    assert set(generation_shown(window).values()) == {True}
    assert window.settings.value(AI_KEY, True, type=bool) is True


def test_render_on_a_cluster_is_kept_checked_and_handed_to_the_next_job(window, qtbot):
    from t2vz_desktop.app.preferences import CLUSTER_KEY, render_cluster

    dialog = open_preferences(window)
    assert dialog.where.currentText() == "This computer" and not dialog.address.isEnabled()
    dialog.where.setCurrentIndex(1)
    assert dialog.address.isEnabled() and dialog.test.isEnabled()
    dialog.address.setText("gpu-box:70000")
    dialog.accept()  # refused: the dialog stays open and says why
    assert dialog.isVisible() and "HOST:PORT" in dialog.answer.text()
    assert render_cluster(window.settings) is None
    dialog.address.setText("127.0.0.1:9")
    dialog.test.click()  # nothing listens there: one line, in red, and the button comes back
    qtbot.waitUntil(lambda: "Cannot reach the Ray cluster at 127.0.0.1:9" in dialog.answer.text(), timeout=15000)
    assert dialog.test.isEnabled()
    answer = dialog.answer  # wrapped onto several lines, every one shown (the dialog grew)
    assert answer.height() >= answer.heightForWidth(answer.width()) > answer.fontMetrics().height()
    dialog.accept()
    assert window.settings.value(CLUSTER_KEY) == "127.0.0.1:9"
    job = window.generate({"prompts": ["a red circle"], "model": "demo", "frames": 2, "steps": 2})
    assert job.cluster == "127.0.0.1:9"
    qtbot.waitUntil(lambda: job.state == "failed", timeout=30000)  # refused before any model loads
    assert "cannot reach the Ray cluster at 127.0.0.1:9" in job.error
    again = open_preferences(window)
    assert again.where.currentText() == "A Ray cluster" and again.address.text() == "127.0.0.1:9"
    again.where.setCurrentIndex(0)
    again.accept()
    assert render_cluster(window.settings) is None
