"""The main window: monitor in the middle; generation panel, media bin and timeline as docks;
menus, toolbar and status bar, and timeline edits. Its other slots are mixed in from
window_messages.py (messages, questions, first run), window_generation.py (jobs, Edit with...,
Re-generate), window_import.py (importing), window_playback.py (play, pause, sound) and
project_files.py (open, save, autosave, recovery)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from PySide6.QtCore import QSettings, QSize, QStandardPaths, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QApplication, QDockWidget, QLabel, QMainWindow, QMenu, QScrollArea, QStyle, QVBoxLayout, QWidget,
)

from .dialogs import ProjectSettingsDialog
from .document import ProjectDocument
from .errors import ErrorReporter, log_path, reports_errors
from .export_dialog import ExportDialog
from .media_bin import MediaBin
from .monitor import PreviewMonitor
from .panel import GenerationPanel
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
from .window_timeline import TimelineHabitsMixin
from .worker import JobQueue

# What the monitor says before there is anything to show (it was plain black).
EMPTY_HINT = "Describe a video in the Generate panel and press Generate,\nor drop video files on the Media bin or the timeline."
BIN_HINT = "Double-click a clip in the Media bin, or drag it to the timeline, to see it here."


class MainWindow(MessagesMixin, GenerationMixin, ImportMixin, PlaybackMixin, TimelineHabitsMixin, ProjectFilesMixin,
                 QMainWindow):
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
        self.bin = MediaBin()
        self.timeline = TimelineView(self.doc, self.bin.thumbnail_for)
        self.setCentralWidget(self.monitor)
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

        self._init_playback()
        self._init_autosave()
        self._build_actions()
        self._build_status_bar()
        self._connect()
        self._restore_layout()
        self._refresh()

    # -- construction -------------------------------------------------------------------------
    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)  # saveState/restoreState find docks by name
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _action(self, text: str, slot, shortcut=None, icon: QStyle.StandardPixmap | str | None = None,
                tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcuts(shortcut if isinstance(shortcut, list) else [QKeySequence(shortcut)])
        if isinstance(icon, str):  # one of ours in resources/icons
            action.setIcon(app_icon(icon))
        elif icon is not None:
            action.setIcon(self.style().standardIcon(icon))
        action.setToolTip(tip or text.replace("&", "").rstrip("."))
        action.triggered.connect(lambda _=False: slot())
        self.addAction(action)  # shortcuts work even while the menu bar is hidden
        return action

    def _build_actions(self) -> None:
        S = QStyle.StandardPixmap
        a = self.actions_by_name = {
            "new": self._action("&New project", self.new_project, QKeySequence.New, S.SP_FileIcon),
            "open": self._action("&Open project...", self.open_dialog, QKeySequence.Open, S.SP_DialogOpenButton),
            "save": self._action("&Save project", self.save, QKeySequence.Save, S.SP_DialogSaveButton),
            "save_as": self._action("Save project &as...", self.save_as, QKeySequence.SaveAs),
            "import": self._action("&Import media...", self.import_dialog, "Ctrl+I", "import"),
            "export": self._action("&Export video...", self.export_dialog, "Ctrl+E", "export"),
            "settings": self._action("Project se&ttings...", self.project_settings),
            "quit": self._action("&Quit", self.close, QKeySequence.Quit),
            "play": self._action("&Play / pause", self.toggle_play, "Space", "play"),
            "split": self._action("&Split at playhead", self.split, "S", "split", tip="Split the clip at the playhead (S)"),
            "delete": self._action("&Delete clip", self.delete_selected,
                                   [QKeySequence(QKeySequence.Delete), QKeySequence("Backspace")], S.SP_TrashIcon),
            "ripple_delete": self._action("R&ipple delete", self.ripple_delete, "Shift+Delete",
                                          tip="Delete the clip and close the space it leaves (Shift+Delete)"),
            "close_gap": self._action("&Close gap", self.close_gap,
                                      tip="Close the gap under the playhead on the current track"),
            "add_track": self._action("&Add video track", self.add_track),
            "remove_track": self._action("&Remove track", self.remove_track),
            "track_up": self._action("Move track &up", lambda: self.move_track(-1)),
            "track_down": self._action("Move track do&wn", lambda: self.move_track(1)),
            "prev_frame": self._action("Previous frame", lambda: self.step_playhead(-1), "Left"),
            "next_frame": self._action("Next frame", lambda: self.step_playhead(1), "Right"),
            "start": self._action("Go to start", lambda: self.timeline.set_playhead(0), "Home"),
            "end": self._action("Go to end", lambda: self.timeline.set_playhead(self.doc.project.duration), "End"),
            "zoom_in": self._action("Zoom &in", lambda: self.timeline.zoom(1.25), ["+", "="]),
            "zoom_out": self._action("Zoom &out", lambda: self.timeline.zoom(0.8), "-"),
            "generate": self._action("&Generate", self.panel.request_generation, "Ctrl+Return", "generate"),
            "cancel": self._action("&Cancel jobs", self.queue.cancel, "Ctrl+.", S.SP_BrowserStop),
            "about": self._action("&About t2vz-desktop", self.about),
            "models_folder": self._action("Open &Models folder", self.open_models_folder,
                                          tip="Drop diffusers folders or .safetensors checkpoints here"),
            "first_run": self._action("Check &GPU and models...", lambda: self.first_run_check(force=True)),
        }
        # Delete acts on what the user is looking at: its keys work in the timeline and the bin
        # only (pressed in the job queue or a field they deleted the selected clip); the menu
        # item and the toolbar button work anywhere.
        a["delete"].setShortcutContext(Qt.WidgetWithChildrenShortcut)
        self.removeAction(a["delete"])
        self.timeline.addAction(a["delete"])
        a["ripple_delete"].setShortcutContext(Qt.WidgetWithChildrenShortcut)  # in a text field it is Cut
        self.removeAction(a["ripple_delete"])
        self.timeline.addAction(a["ripple_delete"])
        self.bin.addAction(a["delete"])
        undo = self.doc.undo.createUndoAction(self, "&Undo")
        undo.setShortcuts([QKeySequence(QKeySequence.Undo)])
        undo.setIcon(app_icon("undo"))
        redo = self.doc.undo.createRedoAction(self, "&Redo")
        redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        redo.setIcon(app_icon("redo"))
        a["undo"], a["redo"] = undo, redo

        bar = self.menuBar()
        file = bar.addMenu("&File")
        for name in ("new", "open"):
            file.addAction(a[name])
        self.recent_menu = file.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        for name in ("save", "save_as", None, "import", "export", None, "settings", "models_folder", None, "quit"):
            file.addSeparator() if name is None else file.addAction(a[name])
        edit = bar.addMenu("&Edit")
        for name in ("undo", "redo", None, "split", "delete", "ripple_delete", "close_gap"):
            edit.addSeparator() if name is None else edit.addAction(a[name])
        tl = bar.addMenu("&Timeline")
        for name in ("play", "prev_frame", "next_frame", "start", "end", None, "add_track", "remove_track", "track_up", "track_down", None, "zoom_in", "zoom_out"):
            tl.addSeparator() if name is None else tl.addAction(a[name])
        gen = bar.addMenu("&Generate")
        gen.addAction(a["generate"])
        gen.addAction(a["cancel"])
        view = bar.addMenu("&View")
        for dock in self.findChildren(QDockWidget):
            view.addAction(dock.toggleViewAction())
        help_menu = bar.addMenu("&Help")
        for name in ("models_folder", "first_run", None, "about"):
            help_menu.addSeparator() if name is None else help_menu.addAction(a[name])

        tools = self.addToolBar("Main")
        tools.setObjectName("main-toolbar")
        tools.setIconSize(QSize(20, 20))
        for name in ("new", "open", "save", None, "import", "export", None, "undo", "redo", None,
                     "play", "split", "delete", None, "generate", "cancel"):
            tools.addSeparator() if name is None else tools.addAction(a[name])

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
        self.bin.files_dropped.connect(self.start_import)  # not import_files: a drop must not wait
        self.bin.thumbnail_ready.connect(self.timeline.update)
        self.bin.thumbnail_failed.connect(lambda e: self.errors.report(e, "Cannot make a thumbnail"))
        self.bin.add_to_timeline.connect(self.add_media_to_timeline)
        self.bin.reuse_requested.connect(self.reuse_settings)
        self.bin.remove_requested.connect(self.remove_media)
        self.bin.edit_requested.connect(lambda media_id: self.edit_with(media_id=media_id))
        self.panel.camera_changed.connect(self.update_camera_path)
        for box in (self.panel.frames, self.panel.width_box, self.panel.height_box):
            box.valueChanged.connect(self.update_camera_path)
        self.timeline.files_dropped.connect(self.start_import)
        self.timeline.menu_requested.connect(self._timeline_menu)
        self.timeline.playhead_moved.connect(self.show_playhead)
        self.monitor.play_toggled.connect(self.toggle_play)
        self.monitor.step_frame.connect(self.step_playhead)
        q = self.queue
        q.job_added.connect(self.panel.show_job)
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
            hint = "Media offline" if offline else "" if project.duration else BIN_HINT if project.media else EMPTY_HINT
            self.monitor.show_timeline_frame(None, hint)
        else:
            self.monitor.show_timeline_frame(fit_frame(picture, w, h))
        self.monitor.set_time(frame, project.duration, project.fps, self.play_timer.isActive())

    # -- editing ----------------------------------------------------------------------------------
    def split(self) -> None:
        project, frame = self.doc.project, self.timeline.playhead
        clip = None
        if self.timeline.selected:
            _, selected = project.find_clip(self.timeline.selected)
            clip = selected if selected.start < frame < selected.end else None
        if clip is None:
            clip = project.track(self.timeline.current_track).clip_at(frame) or project.visible_clip(frame)
        if clip is None:
            self.notify("No clip under the playhead to split.")
            return
        self.doc.edit("Split clip", lambda p: p.split_clip(clip.id, frame))

    def delete_selected(self) -> None:
        """Delete what has the focus: the bin's selected media, else the timeline's keyframe or clip."""
        if self.bin.hasFocus() and self.bin.selected_id():
            self.remove_media(self.bin.selected_id())
        elif self.timeline.delete_selected_key():
            return
        elif self.timeline.selected:
            clip_id = self.timeline.selected
            self.doc.edit("Delete clip", lambda p: p.delete_clip(clip_id))

    def _timeline_menu(self, kind: str, pos) -> None:
        self.timeline_menu(kind).exec(pos)

    def timeline_menu(self, kind: str) -> QMenu:
        """The timeline's context menu for a "clip", a "track" or a keyframe ("key")."""
        a = self.actions_by_name
        menu = QMenu(self)
        if kind == "key":
            menu.addAction("Delete keyframe", self.timeline.delete_selected_key)
            return menu
        if kind == "clip":
            _, clip = self.doc.project.find_clip(self.timeline.selected)
            menu.addActions([a["split"], a["delete"], a["ripple_delete"]])
            menu.addSeparator()
            menu.addAction("Edit with...", lambda: self.edit_with(clip.id))
            if self.doc.project.media[clip.media_id].recipe:
                menu.addAction("Re-use settings", lambda: self.reuse_settings(clip.media_id))
                menu.addAction("Re-generate", lambda: self.regenerate(clip.id))
            menu.addSeparator()
        elif self.doc.project.gap_at(self.timeline.current_track, self.timeline.menu_frame) is not None:
            menu.addAction("Close gap", lambda: self.close_gap(self.timeline.menu_frame))
            menu.addSeparator()
        if self.doc.project.visible_clip(self.timeline.playhead) is not None:
            menu.addAction("Animate this frame", self.animate_frame)
            menu.addSeparator()
        menu.addActions([a["add_track"], a["remove_track"], a["track_up"], a["track_down"]])
        return menu

    def add_track(self) -> None:
        track = self.doc.edit("Add track", lambda p: p.add_track())
        if track is not None:
            self.timeline.current_track = track.id

    def remove_track(self) -> None:
        track_id = self.timeline.current_track
        self.doc.edit("Remove track", lambda p: p.remove_track(track_id))

    def move_track(self, offset: int) -> None:
        track_id = self.timeline.current_track
        self.doc.edit("Move track", lambda p: p.move_track(track_id, offset))

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
        dialog = ExportDialog(self.doc.project, base, self)
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
