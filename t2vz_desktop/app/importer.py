"""Importing off the GUI thread: the files of an import are probed on a pool thread, the result is
handed back to the GUI thread in one piece, and an import still running after 300 ms shows a
progress dialog.

`probe_file` is the per-file work (plain Python over the media layer: it touches no widget, so it
runs on any thread). `ImportQueue` runs imports one at a time, first come first served: a file
dropped while another import runs waits for it, and each import is applied on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal, Slot
from PySide6.QtWidgets import QProgressDialog, QWidget

from ..engine.cancel import CancelToken
from ..media import ACCEPTED, VIDEO_SUFFIXES, MediaError, probe_video, read_recipe
from .project import MediaItem, new_id
from .project_format import usable_recipe

PROGRESS_AFTER_MS = 300  # a faster import shows no dialog: nothing flashes on screen


def probe_file(path: Path) -> MediaItem:
    """A new MediaItem for the video file at `path`, from its headers and its first picture.

    Safe on any thread. fps is 0.0 where the file states no rate (the caller puts in the
    project's). Raises MediaError naming the file when it is not a video this app reads, or has
    no picture that decodes.
    """
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise MediaError(f"not a video file this app reads ({ACCEPTED}): {path}")
    info = probe_video(path)  # decodes the first picture: broken data behind a good header fails here
    if info.frames < 1:
        raise MediaError(f"no frames could be decoded from {path}")
    recipe = usable_recipe(read_recipe(path))  # a video made elsewhere may carry anything
    return MediaItem(new_id(), str(path.resolve()), path.name, info.width, info.height, info.fps, info.frames,
                     info.has_audio, recipe, generated=False)


@dataclass(eq=False)
class ImportJob:
    """One import: files in, media items out.

    The pool thread fills items, problems and failures; the GUI thread reads them only once
    the job's `probed` signal arrived, and alone writes state and added.
    """

    paths: list[Path]
    track_id: str = ""  # the track the files were dropped on; "" adds them to the bin only
    frame: int | None = None  # where on that track (the first free place from there); None: after its last clip
    probe: Callable[[Path], MediaItem] | None = None  # None: this module's probe_file
    match_format: bool | None = None  # an empty project takes the first file's format: None asks, True/False answer
    cancel: CancelToken = field(default_factory=CancelToken)
    items: list[MediaItem] = field(default_factory=list)  # probed, in the order of paths
    problems: list[str] = field(default_factory=list)  # "name: reason" for each file refused (MediaError)
    failures: list[tuple[str, Exception]] = field(default_factory=list)  # (file name, a bug met on it)
    state: str = "queued"  # queued (waiting or probing), done (applied), cancelled (nothing added)
    added: list[MediaItem] = field(default_factory=list)  # what went into the project

    @property
    def ended(self) -> bool:
        return self.state != "queued"


class _ProbeSignals(QObject):
    file_started = Signal(object, int)  # ImportJob, index into its paths
    probed = Signal(object)  # ImportJob: every file probed, or the cancel seen


class _ProbeRun(QRunnable):
    """Probe one job's files in order on a pool thread, checking the cancel between files (a
    probe itself cannot be interrupted)."""

    def __init__(self, job: ImportJob, signals: _ProbeSignals):
        super().__init__()
        self.job, self.signals = job, signals

    def run(self) -> None:
        job = self.job
        probe = job.probe or probe_file  # looked up now: a test may have replaced probe_file
        for i, path in enumerate(job.paths):
            if job.cancel.cancelled:
                break
            self.signals.file_started.emit(job, i)
            try:
                job.items.append(probe(path))
            except MediaError as e:
                job.problems.append(f"{path.name}: {e}")
            except Exception as e:  # noqa: BLE001 - a bug met on this file: shown on the GUI thread, then the next file
                job.failures.append((path.name, e))
        self.signals.probed.emit(job)


class ImportQueue(QObject):
    """Runs imports one at a time on its own pool thread and shows their progress.

    `apply(job)` runs on the GUI thread for each import whose files are all probed, never for a
    cancelled one; `ended` is emitted for every job once applied or cancelled. `notify(text)`
    says why an import was dropped.
    """

    ended = Signal(object)  # ImportJob

    def __init__(self, parent: QWidget, apply: Callable[[ImportJob], None], notify: Callable[[str], None]):
        super().__init__(parent)
        self._apply, self._notify = apply, notify
        self._jobs: list[ImportJob] = []  # waiting or probing, oldest first
        self._batch_done = 0  # files of the imports ended since the queue was last idle: the dialog's "N of M"
        self._now = (0, "")  # the file being probed: its number in the batch and its name
        # The pool is made before the signals: children are deleted in order, and deleting the
        # pool waits for its thread, so a run never emits through a deleted object.
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)  # one import at a time: the next waits, nothing interleaves
        self._signals = _ProbeSignals(self)
        self._signals.file_started.connect(self._file_started)
        self._signals.probed.connect(self._probed)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(PROGRESS_AFTER_MS)
        self._timer.timeout.connect(self._show_progress)
        self.dialog: QProgressDialog | None = None  # shown while a slow import runs
        self.dialogs_shown = 0

    @property
    def busy(self) -> bool:
        return bool(self._jobs)

    def running_threads(self) -> int:
        """Pool threads running a probe now (0 once shutdown returned)."""
        return self._pool.activeThreadCount()

    def start(self, job: ImportJob) -> ImportJob:
        """Queue `job` behind the imports already running; returns it at once."""
        if not self._jobs:
            self._timer.start()
        self._jobs.append(job)
        self._pool.start(_ProbeRun(job, self._signals))
        self._update_dialog()
        return job

    def cancel(self, reason: str = "") -> None:
        """Drop every waiting and running import: none of their files is added. The file being
        probed finishes on its thread and its result is thrown away; `reason`, if any, is told
        to the user."""
        self._pool.clear()  # runs not yet started never start
        jobs, self._jobs = self._jobs, []
        for job in jobs:
            job.cancel.cancel()
            job.state = "cancelled"
        self._went_idle()
        if jobs and reason:
            self._notify(reason)
        for job in jobs:
            self.ended.emit(job)

    def shutdown(self) -> None:
        """Cancel everything and wait for the file being probed (one file's headers and first
        picture): the window is closing, and no thread may outlive it."""
        self.cancel()
        self._pool.waitForDone()

    # -- from the pool thread (queued onto the GUI thread) ------------------------------------------
    @Slot(object, int)
    def _file_started(self, job: ImportJob, index: int) -> None:
        if job.ended:
            return
        self._now = (self._batch_done + index + 1, job.paths[index].name)
        self._update_dialog()

    @Slot(object)
    def _probed(self, job: ImportJob) -> None:
        if job.ended:
            return  # cancelled while its last file was probed
        self._jobs.remove(job)
        self._batch_done += len(job.paths)
        job.state = "done"
        try:
            self._apply(job)
        finally:  # a waiting import_files must wake up even if applying failed
            if not self._jobs:
                self._went_idle()
            self.ended.emit(job)

    # -- the progress dialog --------------------------------------------------------------------
    def _show_progress(self) -> None:
        if not self._jobs or self.dialog is not None:
            return
        # Not modal: the window stays usable (another drop just queues), and a modal
        # QProgressDialog runs processEvents inside setValue, re-entering these slots.
        dialog = QProgressDialog("Importing...", "Cancel", 0, 1, self.parent())
        dialog.setWindowTitle("Import media")
        dialog.setAutoReset(False)
        dialog.setAutoClose(False)
        dialog.setMinimumDuration(0)
        dialog.canceled.connect(self._user_cancelled)
        self.dialog = dialog
        self.dialogs_shown += 1
        self._update_dialog()
        dialog.show()

    @Slot()
    def _user_cancelled(self) -> None:
        self.cancel("Import cancelled: nothing was added.")

    def _update_dialog(self) -> None:
        if self.dialog is None:
            return
        total = self._batch_done + sum(len(j.paths) for j in self._jobs)
        number, name = self._now
        self.dialog.setMaximum(max(1, total))
        self.dialog.setValue(max(0, number - 1))
        self.dialog.setLabelText(f"Importing {number} of {total}: {name}" if name else "Importing...")

    def _went_idle(self) -> None:
        self._timer.stop()
        self._batch_done, self._now = 0, (0, "")
        if self.dialog is not None:
            dialog, self.dialog = self.dialog, None
            dialog.canceled.disconnect(self._user_cancelled)  # closing it would emit canceled
            dialog.reset()  # stops its own show timer, which could bring it back before it is deleted
            dialog.hide()
            dialog.deleteLater()
