"""No exception without a message: one reporter per main window turns every error into words
for the user and a traceback in a log file.

- Expected errors (a broken video, a project or recipe someone else wrote) are bad input: the
  window's usual error message with the error's own text, which names the file.
- Anything else is a bug: a non-modal dialog with a short text, "Copy details" (the traceback
  to the clipboard) and the path of the log file (DATA_DIR/logs/t2vz-desktop.log, 1 MB x 3).

`install()` routes sys.excepthook (PySide6 hands exceptions that escape a slot or a virtual
method to it), threading.excepthook (worker threads) and Qt's own critical and fatal messages to
the reporter; `reports_errors` wraps the window's slots that read files from others.
"""

from __future__ import annotations

import functools
import logging
import logging.handlers
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QtMsgType, QThread, Signal, qInstallMessageHandler
from PySide6.QtWidgets import (
    QApplication, QDialog, QDialogButtonBox, QLabel, QPushButton, QVBoxLayout, QWidget,
)

from ..engine.request import RequestError
from ..media import MediaError
from .project import ProjectFileError

LOG_NAME = "t2vz-desktop.log"
LOG_BYTES, LOG_BACKUPS = 1_000_000, 3
EXPECTED = (MediaError, ProjectFileError, RequestError)  # bad input: the message says it all
REPEAT_QUIET_S = 30.0  # the same error again within this time (a paint loop) opens no dialog


def log_path(data_dir: Path) -> Path:
    return Path(data_dir) / "logs" / LOG_NAME


class ErrorDialog(QDialog):
    """Short text, the log file's path, "Copy details" (the traceback) and Close; not modal."""

    def __init__(self, text: str, details: str, log: Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("t2vz-desktop: something went wrong")
        self.details = details
        self.repeats = 0
        self.text = QLabel(text)
        self.text.setWordWrap(True)
        self.log = QLabel(f"Details were written to {log}")
        self.log.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.more = QLabel()
        self.more.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        self.copy_button = QPushButton("Copy details")
        buttons.addButton(self.copy_button, QDialogButtonBox.ActionRole)  # copies, does not close
        self.copy_button.clicked.connect(self.copy_details)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (self.text, self.more, self.log, buttons):
            layout.addWidget(widget)

    def copy_details(self) -> None:
        QApplication.clipboard().setText(self.details)

    def add_repeat(self) -> None:
        """Another error while this one is shown: counted here, not a new dialog."""
        self.repeats += 1
        self.more.setText(f"{self.repeats} more error(s) since; all are in the log.")
        self.more.show()


class ErrorReporter(QObject):
    """Reports exceptions for one window: `notify(text, error)` is the window's message function."""

    _queued = Signal(object, str)  # (exception, context): from any thread to the GUI thread

    def __init__(self, log: Path, notify: Callable[[str, bool], None], parent: QWidget | None = None):
        super().__init__(parent)
        self.log = Path(log)
        self.notify = notify
        self.window = parent
        self.dialog: ErrorDialog | None = None  # the one open now
        self.dialogs_opened = 0
        self._last_shown: dict[str, float] = {}
        self._busy = False
        self._handler: logging.Handler | None = None
        self._previous: tuple | None = None
        self._queued.connect(self.report, Qt.QueuedConnection)

    # -- reporting --------------------------------------------------------------------------------
    def report(self, error: BaseException, context: str = "") -> None:
        """Log `error` with its traceback and tell the user (GUI thread; others go through
        `report_later`). Never raises, and an error while reporting is only logged."""
        if QThread.currentThread() is not self.thread():
            self.report_later(error, context)
            return
        details = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        self.write_log(f"{context or 'error'}\n{details}")
        if self._busy:  # the dialog itself failed: stop here rather than recurse
            _stderr(f"t2vz-desktop: error while reporting an error: {error}")
            return
        self._busy = True
        try:
            if isinstance(error, EXPECTED):
                self.notify(f"{context}: {error}" if context else str(error), True)
            else:
                self._show(f"{context or 'Something went wrong'}: {type(error).__name__}: {error}", details)
        except Exception as failure:  # noqa: BLE001 - last line of defence: never raise from here
            self.write_log(f"reporting failed\n{''.join(traceback.format_exception(failure))}")
            _stderr(f"t2vz-desktop: {error} (and the error dialog failed: {failure})")
        finally:
            self._busy = False

    def report_later(self, error: BaseException, context: str = "") -> None:
        """Safe from any thread and from inside a paint event: shown once the event loop runs."""
        self._queued.emit(error, context)

    def report_text(self, text: str, details: str) -> None:
        """An error without a Python exception (a Qt critical message)."""
        self.write_log(f"{text}\n{details}")
        if not self._busy:
            self._busy = True
            try:
                self._show(text, details)
            except Exception as failure:  # noqa: BLE001
                _stderr(f"t2vz-desktop: {text} (and the error dialog failed: {failure})")
            finally:
                self._busy = False

    def _show(self, text: str, details: str) -> None:
        key = text
        self.notify(text.splitlines()[0], False)  # status bar and the window's message list
        if self.dialog is not None:
            self.dialog.add_repeat()
            return
        now = time.monotonic()
        if now - self._last_shown.get(key, -REPEAT_QUIET_S) < REPEAT_QUIET_S:
            return  # just shown and closed: a loop that fails each time would reopen it forever
        self._last_shown[key] = now
        dialog = ErrorDialog(text, details, self.log, self.window)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.finished.connect(self._closed)
        self.dialog = dialog
        self.dialogs_opened += 1
        dialog.open()

    def _closed(self, *_) -> None:
        self.dialog = None

    def write_log(self, text: str) -> None:
        try:
            if self._handler is None:
                self.log.parent.mkdir(parents=True, exist_ok=True)
                self._handler = logging.handlers.RotatingFileHandler(
                    self.log, maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8")
                self._handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
            self._handler.handle(logging.LogRecord("t2vz", logging.ERROR, "", 0, text, None, None))
        except Exception as e:  # noqa: BLE001 - a full disk must not turn one error into two
            _stderr(f"t2vz-desktop: cannot write the log {self.log}: {e}\n{text}")

    # -- the process-wide hooks ---------------------------------------------------------------------
    def install(self) -> None:
        """Route uncaught exceptions (GUI and worker threads) and Qt criticals here."""
        self._previous = (sys.excepthook, threading.excepthook)
        sys.excepthook = self._excepthook
        threading.excepthook = self._thread_excepthook
        qInstallMessageHandler(self._qt_message)

    def uninstall(self) -> None:
        if self._previous is not None:
            sys.excepthook, threading.excepthook = self._previous
            qInstallMessageHandler(None)
            self._previous = None
        if self._handler is not None:
            self._handler.close()
            self._handler = None

    def _excepthook(self, kind, error, tb) -> None:
        if not isinstance(error, Exception):  # KeyboardInterrupt, SystemExit: the default way
            sys.__excepthook__(kind, error, tb)
            return
        error.__traceback__ = tb
        self.report_later(error)  # queued: the raise may have been inside a paint event

    def _thread_excepthook(self, args) -> None:
        if args.exc_value is None or not isinstance(args.exc_value, Exception):
            return
        thread = args.thread.name if args.thread is not None else "a worker thread"
        self.report_later(args.exc_value.with_traceback(args.exc_traceback), f"Error in {thread}")

    def _qt_message(self, kind, context, message: str) -> None:
        where = f"{context.file}:{context.line}" if context is not None and context.file else "Qt"
        if kind in (QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg):
            self.write_log(f"Qt {kind.name}: {message} ({where})")
            if kind == QtMsgType.QtCriticalMsg:
                self._queued_text(f"Qt reported an error: {message}", f"{message}\n{where}")
            else:
                _stderr(f"Qt fatal: {message}")  # Qt aborts when this returns: the log has it
        else:
            _stderr(message)  # what Qt prints without a handler

    def _queued_text(self, text: str, details: str) -> None:
        from PySide6.QtCore import QTimer

        if QThread.currentThread() is self.thread():
            QTimer.singleShot(0, self, lambda: self.report_text(text, details))
        else:
            self._queued.emit(RuntimeError(text), "Qt reported an error")


def reports_errors(context: str):
    """Wrap a window method so that an exception becomes a message, not a lost slot: the window
    needs an `errors` ErrorReporter. Returns None where the method raised."""

    def wrap(method):
        @functools.wraps(method)
        def run(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except Exception as error:  # noqa: BLE001 - reported, with its traceback in the log
                self.errors.report(error, context)
                return None

        return run

    return wrap


def _stderr(text: str) -> None:
    try:
        print(text, file=sys.__stderr__, flush=True)
    except Exception:  # noqa: BLE001 - no console (a windowed bundle): the log is all there is
        pass
