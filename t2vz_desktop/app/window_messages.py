"""The main window's words to the user: status and error messages, the questions it asks
(unsaved changes, pickle consent, crash recovery), About and the first-run check."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QIcon
from PySide6.QtWidgets import QMessageBox

from .. import __version__
from ..engine.paths import resources_dir
from ..engine.system import describe_build, first_run_report, models_dir

APP_NAME = "t2vz-desktop"


def app_icon(name: str) -> QIcon:
    return QIcon(str(resources_dir() / "icons" / f"{name}.svg"))


class MessagesMixin:
    """Messages and dialogs of MainWindow (mixed in; reads self.messages, self.settings, self.errors)."""

    # -- messages -----------------------------------------------------------------------------
    def notify(self, text: str, error: bool = False) -> None:
        """Tell the user: the status bar always, a (non-blocking) message box for errors."""
        self.messages.append(text)
        self.statusBar().showMessage(text.splitlines()[0], 8000)
        if error:
            box = QMessageBox(QMessageBox.Warning, APP_NAME, text, QMessageBox.Ok, self)
            box.setAttribute(Qt.WA_DeleteOnClose)
            box.open()

    def ask_unsaved(self) -> str:
        """'save', 'discard' or 'cancel' (tests replace this method)."""
        answer = QMessageBox.question(
            self, APP_NAME, "The project has unsaved changes. Save them?",
            QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Save,
        )
        return {QMessageBox.Save: "save", QMessageBox.Discard: "discard"}.get(answer, "cancel")

    def ask_allow_pickle(self, path: Path) -> bool:
        """Whether to load a pickle checkpoint, asked naming the file (tests replace this): the
        only way the app grants allow_unsafe_pickle, never a recipe's or a project's value."""
        answer = QMessageBox.warning(
            self, APP_NAME, f"{path.name} is a pickle checkpoint ({path}).\nLoading it can run any code "
            "that whoever made it put inside. Load it only if you trust where it came from.\n\nLoad it?",
            QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
        return answer == QMessageBox.Yes

    def ask_remove_used_media(self, name: str, clips: int) -> bool:
        """Whether to remove media that clips on the timeline use (tests replace this)."""
        answer = QMessageBox.question(
            self, APP_NAME, f"{name} is used by {clips} clip{'s' if clips > 1 else ''} on the timeline. Remove it and those clips?\n"
            "(Edit > Undo brings them back.)", QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
        return answer == QMessageBox.Yes

    def ask_recover(self, path: Path) -> bool:
        """Whether to open an autosave left by a session that did not close (tests replace this);
        the question names the project and when its autosave was made."""
        from .project_files import autosave_origin

        origin = autosave_origin(path)
        when = datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
        box = QMessageBox(QMessageBox.Question, APP_NAME,
                          f"t2vz-desktop did not close properly while {origin.name if origin else 'an untitled project'} "
                          f"was open.\nRecover its autosave of {when}? Discarding it deletes it.", parent=self)
        recover = box.addButton("Recover", QMessageBox.AcceptRole)
        box.addButton("Discard", QMessageBox.DestructiveRole)
        box.exec()
        return box.clickedButton() is recover

    def about(self) -> QMessageBox:
        """Version, the torch this installation runs on (a bundle's build_info.json), where
        models are looked for. Non-blocking, so that a test can read it."""
        text = (f"<b>t2vz-desktop {__version__}</b><br>A video editor that makes and edits videos with "
                f"Text2Video-Zero.<br><br>Build: {describe_build()}<br>Device: "
                f"{self.device_label.text().removeprefix('Device: ')}<br>Models folder: {models_dir()}")
        box = QMessageBox(QMessageBox.Information, f"About {APP_NAME}", text, QMessageBox.Ok, self)
        box.setIconPixmap(app_icon("app").pixmap(64, 64))
        box.setAttribute(Qt.WA_DeleteOnClose)
        box.open()
        self.about_box = box
        return box

    def open_models_folder(self) -> Path:
        """Create the Models folder if needed and show it in the file manager."""
        folder = models_dir()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            self.notify(f"Cannot create the Models folder {folder}: {err.strerror}", error=True)
            return folder
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
        self.statusBar().showMessage(f"Models folder: {folder} (new models appear in the model list)", 8000)
        self.panel.refresh_models()
        return folder

    def open_models_dialog(self):
        """File > Models...: installed models and downloads (models_dialog.py); not modal."""
        from .models_dialog import ModelsDialog

        dialog = ModelsDialog(self)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.show()
        self.models_dialog = dialog
        return dialog

    def first_run_check(self, report: dict | None = None, force: bool = False) -> QMessageBox | None:
        """On the first start (or when asked from Help): say when there is no usable GPU or no
        Stable Diffusion weights, and offer the built-in demo model and the Models folder."""
        if not force and self.settings.value("first_run/done", False, type=bool):
            return None
        self.settings.setValue("first_run/done", True)
        report = first_run_report() if report is None else report
        if not (force or report["offer_demo"]):
            return None
        warn = report["gpu"] == "driver-too-old"
        box = QMessageBox(QMessageBox.Warning if warn else QMessageBox.Information,
                          "GPU and models" if force else "Welcome to t2vz-desktop", report["message"],
                          QMessageBox.NoButton, self)
        demo = box.addButton("Use the built-in demo model", QMessageBox.AcceptRole)
        fetch = box.addButton("Download models...", QMessageBox.ActionRole)
        folder = box.addButton("Open Models folder", QMessageBox.ActionRole)
        box.addButton(QMessageBox.Close)
        box.setDefaultButton(demo)

        def clicked(button) -> None:
            if button is demo:
                self.panel.set_model("demo")
            elif button is folder:
                self.open_models_folder()
            elif button is fetch:
                self.open_models_dialog()

        box.buttonClicked.connect(clicked)
        box.setAttribute(Qt.WA_DeleteOnClose)
        box.open()
        self.first_run_box = box
        return box
