"""Project files for the main window: new, open, save (generated clips copied beside the
project), recent projects, autosave and recovery after a crash."""

from __future__ import annotations

import os
import time
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFileDialog

from .project import PROJECT_SUFFIX, Project, ProjectFileError, media_folder

MAX_RECENT = 8
# Autosave runs this long after the last change, so a burst of edits costs one write; while
# changes keep coming it still runs at the latest AUTOSAVE_MAX_WAIT_MS after the first of them.
AUTOSAVE_DELAY_MS = 15_000
AUTOSAVE_MAX_WAIT_MS = 60_000


class ProjectFilesMixin:
    """Mixed into MainWindow; uses its doc, settings, data_dir, notify and ask_* methods."""

    # -- project files ----------------------------------------------------------------------------
    def new_project(self) -> None:
        if self.maybe_save():
            old = self.doc.project
            self._set_project(Project.new(old.width, old.height, old.fps), None)

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open project", "", f"t2vz projects (*{PROJECT_SUFFIX})")
        if path:
            self.open_project(Path(path))

    def open_project(self, path: Path) -> bool:
        if not self.maybe_save():
            return False
        try:
            project = Project.load(path)
        except ProjectFileError as e:
            self.notify(str(e), error=True)
            return False
        self._set_project(project, Path(path).resolve())
        self._add_recent(Path(path).resolve())
        offline = project.offline_media()
        if offline:
            names = "\n".join(f"{m.name} ({m.path})" for m in offline)
            self.notify(f"Missing media (or not a video file), kept as offline clips:\n{names}", error=True)
        return True

    def save(self) -> bool:
        if self.doc.path is None:
            return self.save_as()
        return self.save_project(self.doc.path)

    def save_as(self) -> bool:
        start = str(self.recovered_from or Path.home() / f"untitled{PROJECT_SUFFIX}")
        path, _ = QFileDialog.getSaveFileName(self, "Save project", start, f"t2vz projects (*{PROJECT_SUFFIX})")
        if not path:
            return False
        path = Path(path)
        return self.save_project(path if path.suffix == PROJECT_SUFFIX else path.with_suffix(PROJECT_SUFFIX))

    def own_media_folders(self) -> tuple[Path, ...]:
        """The folders this app generates clips into: app data for unsaved projects (this session's
        and those of crashed sessions, which recovery reopens) and the open project's media folder."""
        folders = [self.data_dir / "unsaved"]
        if self.doc.path is not None:
            folders.append(media_folder(self.doc.path))
        return tuple(folders)

    def save_project(self, path: Path) -> bool:
        """Write the project; generated clips of our own folders (own_media_folders) not yet beside
        it are copied into its media folder. A media path the file brought in stays a reference."""
        path = Path(path).resolve()
        try:
            self.doc.project.save(path, self.own_media_folders())
        except OSError as e:
            self.notify(f"Could not save {path}: {e}", error=True)
            return False
        self.doc.path = path
        self.doc.undo.setClean()
        self._add_recent(path)
        self._remove_autosave()
        self.recovered_from = None
        self._update_title()
        self.notify(f"Saved {path.name}")
        return True

    def maybe_save(self) -> bool:
        """True when it is fine to drop the current project (saved, or the user said so)."""
        if not self.doc.dirty:
            return True
        answer = self.ask_unsaved()
        return self.save() if answer == "save" else answer == "discard"

    def recent_projects(self) -> list[str]:
        value = self.settings.value("recent", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _add_recent(self, path: Path) -> None:
        recent = [str(path)] + [p for p in self.recent_projects() if p != str(path)]
        self.settings.setValue("recent", recent[:MAX_RECENT])

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for p in self.recent_projects():
            self.recent_menu.addAction(p, lambda p=p: self.open_project(Path(p)))
        if not self.recent_projects():
            self.recent_menu.addAction("(none)").setEnabled(False)

    # -- autosave and recovery ----------------------------------------------------------------------
    @property
    def autosave_path(self) -> Path:
        return self.data_dir / "autosave" / f"autosave-{os.getpid()}.t2vz"

    def _init_autosave(self) -> None:
        self.autosave_delay_ms = AUTOSAVE_DELAY_MS  # tests shorten these
        self.autosave_max_wait_ms = AUTOSAVE_MAX_WAIT_MS
        self._first_unsaved_change = 0.0
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setSingleShot(True)
        self.autosave_timer.timeout.connect(self.autosave)
        self.doc.changed.connect(self._schedule_autosave)

    def _schedule_autosave(self) -> None:
        """(Re)start the autosave countdown after a change: debounced, with a deadline."""
        if not self.doc.dirty:
            self.autosave_timer.stop()
            return
        now = time.monotonic()
        if not self.autosave_timer.isActive():
            self._first_unsaved_change = now
        left = self.autosave_max_wait_ms - 1000 * (now - self._first_unsaved_change)
        self.autosave_timer.start(max(0, int(min(self.autosave_delay_ms, left))))

    def autosave(self) -> None:
        if not self.doc.dirty:
            return
        path = self.autosave_path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.doc.project.save(path)
            origin = str(self.doc.path or self.recovered_from or "")  # recovered work keeps its project
            path.with_suffix(".origin").write_text(origin, encoding="utf-8")
        except OSError as e:
            self.statusBar().showMessage(f"Autosave failed: {e}", 8000)

    def _remove_autosave(self) -> None:
        self.autosave_path.unlink(missing_ok=True)
        self.autosave_path.with_suffix(".origin").unlink(missing_ok=True)

    def orphaned_autosaves(self) -> list[Path]:
        """Autosaves of sessions that are gone: what a crash leaves behind."""
        folder = self.data_dir / "autosave"
        found = []
        for path in folder.glob("autosave-*.t2vz") if folder.is_dir() else []:
            pid = path.stem.split("-")[-1]
            if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                found.append(path)
        return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)

    def check_recovery(self, project: Path | None = None) -> bool:
        """Offer the newest autosave that a crashed session left; open it as an unsaved project if
        accepted, discard it if declined. With `project` (the file the app was started with),
        offer only an autosave of that project that is newer than the file: the crash's work."""
        found = self.orphaned_autosaves()
        if project is not None:
            found = [a for a in found if autosave_origin(a) == project.resolve() and
                     (not project.exists() or a.stat().st_mtime > project.stat().st_mtime)]
        if not found:
            return False
        newest = found[0]
        if not self.ask_recover(newest):
            _remove_autosave_file(newest)  # declined: not offered again at every start
            return False
        try:
            loaded = Project.load(newest)
        except ProjectFileError as e:
            self.notify(str(e), error=True)
            return False
        self._set_project(loaded, None)
        self.recovered_from = autosave_origin(newest)
        self.doc.undo.resetClean()  # recovered work is unsaved until the user saves it
        self._update_title()
        for path in found:
            _remove_autosave_file(path)
        self.autosave()  # at once: a second crash before the next change must not lose it again
        self.notify("Recovered the autosaved project; save it to keep it.")
        return True

    def start_with(self, project: Path | None) -> None:
        """What the app does once its window is up: recovery first (an autosave of `project` when
        one is given, else of any crashed session), then the project file if it was not recovered."""
        if not self.check_recovery(project) and project is not None:
            self.open_project(project)


def autosave_origin(autosave: Path) -> Path | None:
    """The project file an autosave was made from (None: an untitled project)."""
    origin = autosave.with_suffix(".origin")
    text = origin.read_text(encoding="utf-8").strip() if origin.is_file() else ""
    return Path(text).resolve() if text else None


def _remove_autosave_file(autosave: Path) -> None:
    autosave.unlink(missing_ok=True)
    autosave.with_suffix(".origin").unlink(missing_ok=True)

def _alive(pid: int) -> bool:
    try:
        import psutil

        return psutil.pid_exists(pid)
    except ImportError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True

