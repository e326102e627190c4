"""No exception without a message: an error that escapes a slot, a worker thread or Qt shows one
dialog (short text, "Copy details", the log file's path) and is written to the log; files from
others (a broken video, a damaged recipe) get a clear message and change nothing."""

from __future__ import annotations

import json
import threading

import pytest
from PySide6.QtWidgets import QApplication, QPushButton
from test_app_fixtures import make_clip, window  # noqa: F401 - the fixture

from t2vz_desktop.app import errors
from t2vz_desktop.app.project import MediaItem


@pytest.fixture
def hooked(window):
    window.errors.install()
    yield window
    window.errors.uninstall()


def raise_in_a_slot(qtbot, message: str) -> None:
    button = QPushButton()
    qtbot.addWidget(button)

    def broken_slot():
        raise RuntimeError(message)

    button.clicked.connect(broken_slot)
    button.click()  # PySide6 hands the escaping exception to sys.excepthook


@pytest.mark.qt_no_exception_capture
def test_an_exception_in_a_slot_shows_the_dialog_logs_and_copies_details(hooked, qtbot):
    raise_in_a_slot(qtbot, "the slot broke")
    qtbot.waitUntil(lambda: hooked.errors.dialog is not None, timeout=3000)
    dialog = hooked.errors.dialog
    assert "the slot broke" in dialog.text.text()
    log = errors.log_path(hooked.data_dir)
    assert str(log) in dialog.log.text()
    written = log.read_text(encoding="utf-8")
    assert "Traceback" in written and "broken_slot" in written and "the slot broke" in written
    dialog.copy_button.click()
    copied = QApplication.clipboard().text()
    assert copied.startswith("Traceback") and "broken_slot" in copied and "RuntimeError: the slot broke" in copied
    assert dialog.isVisible()  # copying does not close it


@pytest.mark.qt_no_exception_capture
def test_a_hundred_identical_errors_open_one_dialog(hooked, qtbot):
    """A paint loop that fails each time must not bury the user under dialogs."""
    for _ in range(100):
        raise_in_a_slot(qtbot, "again and again")
    qtbot.waitUntil(lambda: hooked.errors.dialog is not None and hooked.errors.dialog.repeats == 99, timeout=3000)
    assert hooked.errors.dialogs_opened == 1
    hooked.errors.dialog.reject()
    raise_in_a_slot(qtbot, "again and again")  # closed just now: the same error stays in the log
    qtbot.wait(50)
    assert hooked.errors.dialogs_opened == 1
    assert errors.log_path(hooked.data_dir).read_text(encoding="utf-8").count("again and again") >= 101


@pytest.mark.qt_no_exception_capture
def test_an_error_in_a_worker_thread_is_shown(hooked, qtbot):
    def work():
        raise OSError("the disk went away")

    thread = threading.Thread(target=work, name="exporter")
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: hooked.errors.dialog is not None, timeout=3000)
    assert "exporter" in hooked.errors.dialog.text.text() and "the disk went away" in hooked.errors.dialog.text.text()


def test_a_failing_dialog_does_not_recurse(window, monkeypatch, capfd):
    def broken_dialog(*args, **kwargs):
        window.errors.report(RuntimeError("inner"))  # the dialog's own failure is reported again
        raise RuntimeError("no dialog today")

    monkeypatch.setattr(errors, "ErrorDialog", broken_dialog)
    window.errors.report(ValueError("first"))  # returns: the failure is logged, not raised
    log = errors.log_path(window.data_dir).read_text(encoding="utf-8")
    assert "first" in log and "reporting failed" in log and "no dialog today" in log
    assert "inner" in log
    assert "no dialog today" in capfd.readouterr().err


def test_a_broken_video_is_refused_with_a_message(window, media_zoo):
    for name, words in (("damaged_stsd.mp4", "broken video file"), ("audio_only.mp4", "no video stream"),
                        ("song_with_cover.mp4", "only cover art, no video")):
        assert window.import_files([media_zoo / name]) == []
        assert words in window.messages[-1] and name in window.messages[-1]
    assert window.doc.project.media == {}


def test_a_bug_met_on_one_file_is_shown_and_the_others_still_import(window, tmp_path, monkeypatch):
    good = make_clip(tmp_path / "good.mp4")
    bad = make_clip(tmp_path / "bad.mp4")
    real_probe = window._probe

    def probe(path):
        if path.name == "bad.mp4":
            raise ZeroDivisionError("a bug in probing")
        return real_probe(path)

    monkeypatch.setattr(window, "_probe", probe)
    items = window.import_files([bad, good])
    assert [i.name for i in items] == ["good.mp4"]
    assert window.errors.dialog is not None and "ZeroDivisionError" in window.errors.dialog.text.text()
    assert "Cannot import bad.mp4" in window.errors.dialog.text.text()


def test_reuse_settings_of_a_damaged_recipe_says_so(window, tmp_path):
    clip = make_clip(tmp_path / "gen.mp4")
    item = MediaItem("m1", str(clip), "gen.mp4", 64, 48, 8, 8, recipe=json.dumps({"t2vz_recipe": 1, "prompts": []}),
                     generated=True)
    window.doc.edit("add", lambda p: p.add_media(item))
    window.reuse_settings("m1")  # no exception out of the slot
    assert "settings stored with gen.mp4 are damaged" in window.messages[-1]
    window.edit_with(media_id="m1")
    assert window.errors.dialog is not None  # an unexpected failure: the dialog, with details


def test_open_project_reports_an_unexpected_failure(window, tmp_path, monkeypatch):
    from t2vz_desktop.app import project_files

    def load(path):
        raise KeyError("tracks")

    monkeypatch.setattr(project_files.Project, "load", staticmethod(load))
    assert not window.open_project(tmp_path / "x.t2vz")
    assert window.errors.dialog is not None and "Cannot open the project" in window.errors.dialog.text.text()


def test_a_qt_critical_message_is_shown_and_logged(hooked, qtbot):
    from PySide6.QtCore import qCritical

    qCritical("the graphics driver said no")
    qtbot.waitUntil(lambda: hooked.errors.dialog is not None, timeout=3000)
    assert "the graphics driver said no" in hooked.errors.dialog.text.text()
    assert "the graphics driver said no" in errors.log_path(hooked.data_dir).read_text(encoding="utf-8")
