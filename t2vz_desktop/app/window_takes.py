"""The main window's takes: every finished job's videos go into the project's History; one take
goes straight onto the timeline, a batch (batch count above 1) is shown in the takes grid in
the monitor's place to choose from. Put on timeline, Re-use settings and Delete file for a
take, and the history rebuilt from the media folder when a project file has none."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QStackedWidget, QWidget

from .history import HistoryPanel
from .project import Clip, Project, media_folder, new_id
from .project_types import Take
from .takes import TakesGrid
from .takes_data import make_take, rebuild_history
from .window_messages import APP_NAME


class TakesMixin:
    """Mixed into MainWindow; uses its doc, monitor, bin, timeline, notify and _dock."""

    def _monitor_area(self) -> QWidget:
        """The central widget: the monitor, and in its place while a batch is on show, the grid."""
        self.takes_grid = TakesGrid()
        self.takes_grid.put_requested.connect(self._put_grid_takes)
        self.takes_grid.closed.connect(self.close_takes)
        self.monitor_stack = QStackedWidget()
        self.monitor_stack.addWidget(self.monitor)
        self.monitor_stack.addWidget(self.takes_grid)
        return self.monitor_stack

    def _init_history(self) -> None:
        self.history = HistoryPanel(self.bin.thumbnail_for)
        self._dock("History", "history-dock", self.history, Qt.RightDockWidgetArea)
        self.bin.thumbnail_ready.connect(self.history.refresh_thumbnails)
        self.history.reuse_requested.connect(self.reuse_take)
        self.history.put_requested.connect(self.put_takes)
        self.history.delete_requested.connect(self.delete_take)
        self.doc.replaced.connect(self._history_replaced)
        self._history_replaced()

    # -- the project's takes ------------------------------------------------------------------------
    def history_takes(self) -> list[Take]:
        """The project's takes, oldest first; read from the media folder's recipes when the
        project file had no history (or a damaged one, which is said once)."""
        project = self.doc.project
        if project.history is None:
            if project.history_note:
                name = self.doc.path.name if self.doc.path else "the project"
                self.notify(f"{name}: {project.history_note}")
                project.history_note = ""
            project.history = rebuild_history(media_folder(self.doc.path)) if self.doc.path else []
        return project.history

    def find_take(self, take_id: str) -> Take | None:
        return next((t for t in self.history_takes() if t.item.id == take_id), None)

    def _history_replaced(self) -> None:
        self.close_takes()
        self.history.set_takes(self.history_takes())

    def _history_changed(self) -> None:
        """History is kept out of undo (a made take stays made) but saved with the project: a
        change leaves the project unsaved."""
        self.history.set_takes(self.history_takes())
        self.doc.undo.resetClean()
        self._update_title()
        self._schedule_autosave()

    def record_takes(self, outputs: list) -> list[Take]:
        """Every video of a finished job (worker JobOutputs) as takes at the end of History."""
        takes = [make_take(o.path, o.recipe, o.width, o.height, o.fps, o.frames, o.has_audio, o.seconds, len(outputs))
                 for o in outputs]
        self.history_takes().extend(takes)
        self._history_changed()
        return takes

    # -- the grid -------------------------------------------------------------------------------------
    def show_takes(self, takes: list[Take], above_clip: str = "") -> None:
        self.stop_playback()
        self.takes_grid.set_takes(takes, above_clip)
        self.monitor_stack.setCurrentWidget(self.takes_grid)

    def close_takes(self) -> None:
        """Back to the monitor; the takes not chosen stay in History."""
        self.takes_grid.stop()
        self.monitor_stack.setCurrentWidget(self.monitor)

    def _put_grid_takes(self, ids: list[str]) -> None:
        if self.put_takes(ids, self.takes_grid.above_clip) is not None:
            self.close_takes()
            self.show_playhead()

    # -- acting on takes ------------------------------------------------------------------------------
    def put_takes(self, ids: list[str], above_clip: str = "") -> list[Clip] | None:
        """Put takes on the timeline in one undo step, as a single result goes: after the bottom
        track's last clip, or (an edit or a re-generation) on the track above its source clip,
        each further take on a new track above. A take already in the bin is not added twice."""
        takes = [t for t in (self.find_take(i) for i in ids) if t is not None]
        missing = [t.item.name for t in takes if t.item.offline or not Path(t.item.path).is_file()]
        if missing:
            self.notify(f"The file of {', '.join(missing)} is missing: it cannot go on the timeline.", error=True)
            return None
        if not takes:
            return None
        project = self.doc.project
        above = above_clip if any(c.id == above_clip for t in project.tracks for c in t.clips) else ""
        track_id = project.tracks[-1].id  # the bottom track holds the main story

        def add(p: Project) -> list[Clip]:
            clips = []
            for take in takes:
                item = next((m for m in p.media.values() if m.path == take.item.path), None)
                if item is None:
                    item = p.add_media(replace(take.item, id=take.item.id if take.item.id not in p.media else new_id()))
                # an edit or a new take plays in place of its source: on the track above, same time
                clips.append(p.add_clip_above(above, item.id) if above else p.add_clip(track_id, item.id))
            return clips

        label = ("Add edited clip" if above else "Add generated clip") if len(takes) == 1 else f"Add {len(takes)} takes"
        clips = self.doc.edit(label, add)
        if clips:
            self.timeline.set_selection({c.id for c in clips}, clips[0].id)
            self.timeline.set_playhead(clips[0].start)
        return clips

    def reuse_take(self, take_id: str) -> None:
        take = self.find_take(take_id)
        if take is not None:
            self.reuse_item(take.item)

    def delete_take(self, take_id: str) -> bool:
        """Delete a take's video and its recipe sidecar (asked first) and drop it from History. A
        take in the project (on the timeline or in the bin) is refused, saying so; so is a file
        outside the app's own media folders (a project file may name any path)."""
        take = self.find_take(take_id)
        if take is None:
            return False
        project = self.doc.project
        used = {m.id for m in project.media.values() if m.path == take.item.path}
        if used:
            clips = sum(c.media_id in used for t in project.tracks for c in t.clips)
            where = f"on the timeline ({clips} clip{'s' if clips > 1 else ''})" if clips else "in the Media bin"
            self.notify(f"{take.item.name} is {where}: remove it from the project first. Its file was not deleted.",
                        error=True)
            return False
        path = Path(take.item.path)
        if path.exists():
            own = any(path.resolve().is_relative_to(f.resolve()) for f in self.own_media_folders())
            if not own:
                self.notify(f"{path} is not in this project's media folder: it was not deleted.", error=True)
                return False
            if not self.ask_delete_take(path):
                return False
            try:
                for file in (path, path.with_suffix(".json")):
                    file.unlink(missing_ok=True)
            except OSError as e:
                self.notify(f"Could not delete {path.name}: {e}", error=True)
                return False
        self.history_takes().remove(take)
        self._history_changed()
        self.notify(f"Deleted {path.name} and its recipe.")
        return True

    def ask_delete_take(self, path: Path) -> bool:
        """Whether to delete a take's file for good (tests replace this)."""
        answer = QMessageBox.question(
            self, APP_NAME, f"Delete {path.name} and its recipe from disk?\n({path})\nThis cannot be undone.",
            QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
        return answer == QMessageBox.Yes
