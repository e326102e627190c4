"""The main window: monitor in the middle; generation panel, media bin and timeline as docks;
the status bar, media and export. Its other slots are mixed in from menus.py (actions, menus,
toolbar), window_messages.py (messages, questions, first run), window_generation.py (jobs, Edit
with..., Re-generate), window_import.py (importing), window_playback.py (play, pause, sound),
window_shuttle.py (J/K/L), window_timeline.py (timeline edits, markers, tracks), window_ranges.py
(In and Out points) and project_files.py (open, save, autosave, recovery)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths, Qt, QTimer
from PySide6.QtWidgets import QApplication, QDockWidget, QLabel, QMainWindow, QScrollArea, QVBoxLayout, QWidget

from .compare_view import CompareDialog
from .dialogs import ProjectSettingsDialog
from .document import ProjectDocument
from .errors import ErrorReporter, log_path, reports_errors
from .export_dialog import ExportDialog
from .media_bin import MediaBin
from .menus import MenusMixin
from .monitor import PreviewMonitor
from .panel import GenerationPanel
from .preferences import apply_preferences
from .project import Project, new_id
from .project_files import ProjectFilesMixin
from .render import FrameCache, fit_frame, frame_at
from .sysinfo import format_bytes, process_memory
from .theme import apply_dark_theme
from .timeline import TimelineView
from .timeline_panel import TimelinePanel
from .window_generation import GenerationMixin
from .window_import import ImportMixin
from .window_messages import APP_NAME, MessagesMixin, app_icon
from .window_playback import PlaybackMixin
from .window_ranges import RangesMixin
from .window_shuttle import ShuttleMixin
from .window_takes import TakesMixin
from .window_timeline import TimelineHabitsMixin
from .worker import JobQueue

# What the monitor says before there is anything to show (it was plain black).
EMPTY_HINT = "Describe a video in the Generate panel and press Generate,\nor drop video files on the Media bin or the timeline."
EDITOR_HINT = "Drop video files on the Media bin or the timeline, or use File > Import media."  # AI features off
BIN_HINT = "Double-click a clip in the Media bin, or drag it to the timeline, to see it here."


class MainWindow(MenusMixin, MessagesMixin, TakesMixin, GenerationMixin, ImportMixin, PlaybackMixin, ShuttleMixin,
                 TimelineHabitsMixin, RangesMixin, ProjectFilesMixin, QMainWindow):
    open_project = reports_errors("Cannot open the project")(ProjectFilesMixin.open_project)

    def __init__(self, settings: QSettings | None = None, data_dir: Path | None = None, queue: JobQueue | None = None):
        super().__init__()
        apply_dark_theme(QApplication.instance())  # whoever opens the window gets the same look
        self.setWindowIcon(app_icon("app"))
        self.settings = settings or QSettings("t2vz", APP_NAME)
        self.data_dir = data_dir or Path(QStandardPaths.writableLocation(QStandardPaths.AppDataLocation))
        self.session = new_id()
        self.messages: list[str] = []  # every message shown to the user, newest last
        self.errors = ErrorReporter(log_path(self.data_dir), self.notify, self)
        self.doc = ProjectDocument(Project.new(), self)
        self.frames = FrameCache()
        self.queue = queue or JobQueue()
        self.recovered_from: Path | None = None
        self.allowed_pickles: set[Path] = set()  # checkpoints the user allowed in a dialog this session

        self.monitor = PreviewMonitor()
        self.panel = GenerationPanel()
        self.panel.presets.set_folder(self.data_dir / "presets")  # the user's style presets
        self.bin = MediaBin()
        self.timeline = TimelineView(self.doc, self.bin.thumbnail_for)
        self.setCentralWidget(self._monitor_area())  # the monitor, or a batch's takes grid (window_takes.py)
        self.setDockNestingEnabled(True)
        scroller = QScrollArea()  # the panel is tall: let it scroll on small screens
        scroller.setWidget(self.panel)
        scroller.setWidgetResizable(True)
        scroller.setFrameShape(QScrollArea.NoFrame)
        scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroller.setMinimumWidth(self.panel.minimumSizeHint().width() + 16)
        generate = QWidget()
        column = QVBoxLayout(generate)
        column.setContentsMargins(0, 0, 0, 4)
        column.addWidget(scroller, 1)
        column.addWidget(self.panel.buttons)  # Generate and Cancel stay in view however far it scrolls
        self._dock("Generate", "generate-dock", generate, Qt.LeftDockWidgetArea)
        self._dock("Media", "media-dock", self.bin, Qt.RightDockWidgetArea)
        self._dock("Timeline", "timeline-dock", TimelinePanel(self.timeline), Qt.BottomDockWidgetArea)
        self._init_history()  # the History dock, before the View menu lists the docks

        self._init_playback()
        self._init_shuttle()
        self._init_autosave()
        self._build_actions()
        self.restore_view_switches()
        self._build_status_bar()
        self._connect()
        self._restore_layout()
        apply_preferences(self)  # after the layout: restoring it would show a hidden Generate dock
        self._refresh()

    def compare_files(self, left: str, right: str) -> CompareDialog:
        """Open the compare view of two videos (the bin's Compare and Compare with source)."""
        self.compare_dialog = CompareDialog(Path(left), Path(right), self)  # kept: tests, screenshots
        self.compare_dialog.setAttribute(Qt.WA_DeleteOnClose)
        self.compare_dialog.show()
        return self.compare_dialog

    # -- construction -------------------------------------------------------------------------
    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)  # saveState/restoreState find docks by name
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_status_bar(self) -> None:
        self.device_label = QLabel("Device: auto (not loaded)")
        self.model_label = QLabel("Model: none")
        self.memory_label = QLabel()
        for label in (self.device_label, self.model_label, self.memory_label):
            self.statusBar().addPermanentWidget(label)
        self.memory_timer = QTimer(self)
        self.memory_timer.timeout.connect(self._update_memory)
        self.memory_timer.start(2000)
        self._update_memory()

    def _connect(self) -> None:
        self.doc.changed.connect(self._refresh)
        # bound methods, not lambdas: Qt drops those connections when the window is deleted
        self.doc.error.connect(self.notify)
        self.doc.undo.cleanChanged.connect(self._update_title)
        self.panel.generate_requested.connect(self.generate)
        self.panel.cancel_requested.connect(self.queue.cancel)
        self.panel.skip_requested.connect(self._skip_optimising)
        self.bin.files_dropped.connect(self.start_import)  # not import_files: a drop must not wait
        self.bin.thumbnail_ready.connect(self.timeline.update)
        self.bin.thumbnail_failed.connect(lambda e: self.errors.report(e, "Cannot make a thumbnail"))
        self.bin.add_to_timeline.connect(self.add_media_to_timeline)
        self.bin.reuse_requested.connect(self.reuse_settings)
        self.bin.remove_requested.connect(self.remove_media)
        self.bin.edit_requested.connect(lambda media_id: self.edit_with(media_id=media_id))
        self.bin.compare_requested.connect(self.compare_files)
        self.panel.camera_changed.connect(self.update_camera_path)
        for box in (self.panel.frames, self.panel.width_box, self.panel.height_box):
            box.valueChanged.connect(self.update_camera_path)
        self.timeline.files_dropped.connect(self.start_import)
        self.timeline.menu_requested.connect(self._timeline_menu)
        self.timeline.marker_activated.connect(self.rename_marker)
        self.timeline.playhead_moved.connect(self.show_playhead)
        self.monitor.play_toggled.connect(self.play_pause)
        self.monitor.step_frame.connect(self.step_playhead)
        q = self.queue
        self.panel.queue.attach(q)  # its rows follow the queue; right-click and Delete act on one job
        q.job_started.connect(self._job_started)
        q.job_step.connect(self._job_step)
        q.job_status.connect(self._job_status)
        q.job_finished.connect(self._job_finished)
        q.job_failed.connect(self._job_failed)
        q.job_cancelled.connect(self._job_cancelled)
        q.count_changed.connect(self._queue_count)
        q.model_loaded.connect(self._model_loaded)

    # -- view refresh ---------------------------------------------------------------------------
    def _refresh(self) -> None:
        self.bin.refresh(self.doc.project)
        self.timeline.update()
        self._update_title()
        self.show_playhead()

    def _update_title(self, *_) -> None:
        if self.doc.path is not None:
            name = self.doc.path.name
        else:
            name = f"{self.recovered_from.name} (recovered)" if self.recovered_from else "Untitled"
        self.setWindowTitle(f"{name}[*] - {APP_NAME}")
        self.setWindowModified(self.doc.dirty)

    def _update_memory(self) -> None:
        self.memory_label.setText(f"Memory: {format_bytes(process_memory())}")

    def _model_loaded(self, device: str, model: str) -> None:
        self.device_label.setText(f"Device: {device}")
        self.model_label.setText(f"Model: {Path(model).name if os.sep in model else model}")

    def show_playhead(self, *_) -> None:
        project, frame = self.doc.project, self.timeline.playhead
        picture, clip = frame_at(project, frame, self.frames)
        scale = min(1.0, 640 / max(project.width, project.height))
        w, h = max(2, round(project.width * scale)), max(2, round(project.height * scale))
        if picture is None:
            offline = clip is not None and project.media[clip.media_id].offline
            self.monitor.view.aspect = project.width / project.height
            empty = EMPTY_HINT if getattr(self, "ai_features", True) else EDITOR_HINT
            hint = "Media offline" if offline else "" if project.duration else BIN_HINT if project.media else empty
            self.monitor.show_timeline_frame(None, hint)
        else:
            self.monitor.show_timeline_frame(fit_frame(picture, w, h))
        self.monitor.set_time(frame, project.duration, project.fps, self.playing_speed)

    # -- editing ----------------------------------------------------------------------------------
    def add_media_to_timeline(self, media_id: str) -> None:
        track_id = self.timeline.current_track
        clip = self.doc.edit("Add clip", lambda p: p.add_clip(track_id, media_id))
        if clip is not None:
            self.timeline.select(clip.id)

    def remove_media(self, media_id: str) -> None:
        """Remove media from the bin; when clips on the timeline use it, ask first (they go too)."""
        project = self.doc.project
        used = sum(c.media_id == media_id for t in project.tracks for c in t.clips)
        if used and not self.ask_remove_used_media(project.media[media_id].name, used):
            return
        self.doc.edit("Remove media", lambda p: p.remove_media(media_id))

    def project_settings(self) -> None:
        dialog = ProjectSettingsDialog(self.doc.project, self)
        if dialog.exec():
            w, h, fps = dialog.values()
            self.doc.edit("Project settings", lambda p: p.set_format(w, h, fps))

    def _set_project(self, project: Project, path: Path | None) -> None:
        self.recovered_from = None  # check_recovery sets it again for recovered work
        self.stop_playback()
        self.frames = FrameCache()
        self.timeline.playhead = 0
        self.doc.replace(project, path)

    # -- export -------------------------------------------------------------------------------------
    def export_dialog(self) -> ExportDialog | None:
        if self.doc.project.duration == 0:
            self.notify("The timeline is empty: generate or import a clip first.")
            return None
        base = self.doc.path.with_suffix(".mp4") if self.doc.path else Path.home() / "export.mp4"
        dialog = ExportDialog(self.doc.project, base, self, selected=self.timeline.selected_ids())
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.open()
        return dialog

    # -- layout and closing ---------------------------------------------------------------------------
    def _restore_layout(self) -> None:
        geometry = self.settings.value("window/geometry")
        state = self.settings.value("window/state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1360, 860)
        if state is not None:
            self.restoreState(state)
        else:
            self.resizeDocks([self.findChild(QDockWidget, "timeline-dock")], [250], Qt.Vertical)

    def closeEvent(self, event) -> None:
        if not self.maybe_save():
            event.ignore()
            return
        self.stop_playback()
        self.stop_imports()
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.sync()
        self.queue.shutdown()
        self._remove_autosave()
        self._remove_unused_generations()
        event.accept()

    def _remove_unused_generations(self) -> None:
        """Clips generated before the project was first saved live in app data. Saving copies them
        beside the project and closing drops the autosave, so after a clean close nothing refers
        to them any more."""
        shutil.rmtree(self.data_dir / "unsaved" / self.session, ignore_errors=True)
