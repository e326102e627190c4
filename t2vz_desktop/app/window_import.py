"""The main window's importing: the file dialog, dropped files, and applying what the import
thread (importer.py) probed as one undoable step, with the question whether an empty project
takes the first clip's size and rate (match_format.py)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEventLoop, QStandardPaths
from PySide6.QtWidgets import QFileDialog, QMessageBox

from . import importer
from .importer import ImportJob, ImportQueue
from .match_format import FormatOffer, offer_for
from .project import VIDEO_SUFFIXES, MediaItem, Project


def video_filter() -> str:
    """The Import dialog's filter: every accepted suffix in lower and upper case (the Qt and GTK
    dialogs on Linux match case-sensitively: a camera's CLIP.MP4 was hidden), then all files, so
    that a file with another suffix gets a message saying what is accepted."""
    patterns = " ".join(f"*{s} *{s.upper()}" for s in VIDEO_SUFFIXES)
    return f"Videos ({patterns});;All files (*)"


class ImportMixin:
    """Import slots of MainWindow (mixed in; uses self.doc, self.errors and self.notify)."""

    # -- importing ----------------------------------------------------------------------------------
    def import_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Import media", self.import_folder(), video_filter())
        if files:
            self.settings.setValue("import/folder", str(Path(files[0]).parent))
            # Waits (like a modal dialog's exec, the window stays live): the file dialog has
            # closed and nothing outside waits on us, and the action is done when it returns.
            self.import_files([Path(f) for f in files])

    def import_folder(self) -> str:
        """Where the import dialog opens: the last folder imported from, else the user's videos
        folder, else home (it opened in the process's working directory)."""
        last = self.settings.value("import/folder", "")
        if last and Path(last).is_dir():
            return last
        videos = QStandardPaths.writableLocation(QStandardPaths.MoviesLocation)
        return videos if videos and Path(videos).is_dir() else str(Path.home())

    @property
    def imports(self) -> ImportQueue:
        """The window's import queue, made on first use."""
        queue = getattr(self, "_imports", None)
        if queue is None:
            queue = self._imports = ImportQueue(self, self._apply_import, self.notify)
            # files dropped on the old project must not land in the one opened meanwhile
            self.doc.replaced.connect(lambda: queue.cancel("Import cancelled: another project was opened."))
        return queue

    def start_import(self, paths: list[Path], track_id: str = "", frame: int | None = None,
                     match_format: bool | None = None) -> ImportJob:
        """Import video files without waiting; drops come here (a drop handler that waited would
        keep the file manager's drag, on Windows its whole window, waiting with it).

        The files are probed one after another on the import thread; once all are read they are
        added as one undoable step (to the bin, and to track `track_id` from `frame` on when
        dropped on one). A file that cannot be read is named in one message and changes nothing.
        Returns the job at once; it ends (imports.ended) when applied or cancelled. An import
        started while another runs waits for it. After 300 ms a progress dialog shows; its
        Cancel stops after the file being probed and adds nothing of that import (nor of those
        waiting), so an import is all or nothing, like its one undo step.

        Into an empty project whose size or rate differ from the first file's, `match_format`
        None asks the user whether the project takes the file's (ask_match_format), True takes
        it and False keeps the project's without asking (for scripts).
        """
        job = ImportJob([Path(p) for p in paths], track_id, frame, probe=self._probe, match_format=match_format)
        if not job.paths:
            job.state = "done"
            return job
        return self.imports.start(job)

    def import_files(self, paths: list[Path], track_id: str = "", frame: int | None = None,
                     match_format: bool | None = None) -> list[MediaItem]:
        """start_import, then wait for it to end; returns the media items added ([] when none
        could be read or the import was cancelled). For scripts and tests that need the result.

        It waits in a local event loop: the window keeps painting and taking input, and the
        progress dialog shows as for a drop. Closing the window or quitting ends the wait.
        """
        job = self.start_import(paths, track_id, frame, match_format)
        if not job.ended:
            loop = QEventLoop()

            def stop_waiting(ended: ImportJob) -> None:
                if ended is job:
                    loop.quit()

            self.imports.ended.connect(stop_waiting)
            try:
                loop.exec()
            finally:
                self.imports.ended.disconnect(stop_waiting)
        return job.added

    def stop_imports(self) -> None:
        """The window is closing: drop every import and wait for the file being probed, so that
        no thread outlives the window and nothing is added to a closed project."""
        if getattr(self, "_imports", None) is not None:
            self._imports.shutdown()

    def _probe(self, path: Path) -> MediaItem:
        """The per-file work of an import, run on the import thread, so it must not read the
        window; a method so that a test can put a failing probe in its place."""
        return importer.probe_file(path)

    def ask_match_format(self, offer: FormatOffer) -> bool:
        """Whether an empty project takes a first clip's size and rate; Yes is the default, as
        footage usually sets the format (tests replace this)."""
        answer = QMessageBox.question(self, "Project settings", offer.question(),
                                      QMessageBox.Yes | QMessageBox.No, QMessageBox.Yes)
        return answer == QMessageBox.Yes

    def _format_to_match(self, job: ImportJob) -> FormatOffer | None:
        """The format the project takes with this import: the first file's when the project is
        empty, differs, and the job or the user says yes; None otherwise."""
        offer = offer_for(self.doc.project, job.items[0])
        if offer is None or job.match_format is False or getattr(self, "_asking_format", False):
            return None  # (an import applied while the question is open does not ask a second one)
        if job.match_format is None:
            self._asking_format = True
            try:  # modal: its event loop may apply another import meanwhile; set_format rescales it
                if not self.ask_match_format(offer):
                    return None
            finally:
                self._asking_format = False
        return offer

    def _apply_import(self, job: ImportJob) -> None:
        """On the GUI thread: add what `job` probed as one undoable step and say how it went.
        The project's new format, when it takes the first file's, is part of that same step: one
        undo takes back the import and the format together."""
        for name, error in job.failures:
            self.errors.report(error, f"Cannot import {name}")
        items = job.items
        if items:
            for item in items:
                item.fps = item.fps or self.doc.project.fps  # a file that states no rate plays at the project's
            offer = self._format_to_match(job)

            def add(p: Project) -> bool:
                if offer is not None:  # first, so the clips get their lengths at the new rate
                    p.set_format(offer.width, offer.height, offer.fps)
                # the track dropped on may have been removed while the files were probed: bin only
                track_id = job.track_id if any(t.id == job.track_id for t in p.tracks) else ""
                at = job.frame
                for item in items:
                    p.add_media(item)
                    if track_id:
                        at = p.add_clip(track_id, item.id, at).end
                return True

            label = f"Import {len(items)} file(s)" + (" and match the project to the first" if offer else "")
            if self.doc.edit(label, add):
                job.added = list(items)
                self.notify(f"Imported {', '.join(i.name for i in items)}")
                if offer is not None:
                    self.notify(offer.done())
        if job.problems:
            # The status bar shows the first line only: it says how many, once the box is closed.
            count = len(job.problems)
            self.notify(f"Could not import {count} file{'s' if count > 1 else ''}:\n" + "\n".join(job.problems),
                        error=True)
