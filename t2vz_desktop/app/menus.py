"""The main window's actions, menus and toolbar (mixed into MainWindow). Every action is in a
menu with its shortcut shown there, and Help > Keyboard shortcuts lists them from these same
QActions (shortcuts_dialog.py), so the list cannot drift from what the keys do."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QStyle

from .preferences import open_preferences
from .window_messages import app_icon

# Actions whose keys act only while the timeline (or the bin) has the focus: in a text field the
# same keys delete, cut, copy, paste or select text.
TIMELINE_KEYS = ("delete", "ripple_delete", "copy", "cut", "paste", "select_all")


class MenusMixin:
    """Builds self.actions_by_name, the menu bar and the toolbar; reads the window's slots."""

    def _action(self, text: str, slot, shortcut=None, icon: QStyle.StandardPixmap | str | None = None,
                tip: str = "", checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcuts(shortcut if isinstance(shortcut, list) else [QKeySequence(shortcut)])
        if isinstance(icon, str):  # one of ours in resources/icons
            action.setIcon(app_icon(icon))
        elif icon is not None:
            action.setIcon(self.style().standardIcon(icon))
        keys = ", ".join(k.toString(QKeySequence.NativeText) for k in action.shortcuts())
        action.setToolTip(tip or text.replace("&", "").rstrip(".") + (f" ({keys})" if keys else ""))
        action.setCheckable(checkable)
        if checkable:
            action.toggled.connect(slot)
        else:
            action.triggered.connect(lambda _=False: slot())
        self.addAction(action)  # shortcuts work even while the menu bar is hidden
        return action

    def _build_actions(self) -> None:
        S, K, t = QStyle.StandardPixmap, QKeySequence, self.timeline
        act = self._action
        a = self.actions_by_name = {
            "new": act("&New project", self.new_project, K.New, S.SP_FileIcon),
            "open": act("&Open project...", self.open_dialog, K.Open, S.SP_DialogOpenButton),
            "save": act("&Save project", self.save, K.Save, S.SP_DialogSaveButton),
            "save_as": act("Save project &as...", self.save_as, K.SaveAs),
            "import": act("&Import media...", self.import_dialog, "Ctrl+I", "import"),
            "export": act("&Export video...", self.export_dialog, "Ctrl+E", "export"),
            "settings": act("Project se&ttings...", self.project_settings),
            "quit": act("&Quit", self.close, K.Quit),
            "play": act("&Play / pause", self.play_pause, "Space", "play"),
            "shuttle_back": act("Shuttle &backward (again: faster)", lambda: self.shuttle(-1), "J"),
            "shuttle_stop": act("S&top", self.shuttle_stop, "K"),
            "shuttle_forward": act("Shuttle &forward (again: faster)", lambda: self.shuttle(1), "L"),
            "split": act("&Split at playhead", self.split, "S", "split", tip="Split the clip at the playhead (S)"),
            "delete": act("&Delete clip", self.delete_selected, [K(K.Delete), K("Backspace")], S.SP_TrashIcon),
            "ripple_delete": act("R&ipple delete", self.ripple_delete, "Shift+Delete",
                                 tip="Delete the clip and close the space it leaves (Shift+Delete)"),
            "close_gap": act("Close &gap", self.close_gap, tip="Close the gap under the playhead on the current track"),
            "copy": act("&Copy clips", self.copy_clips, K.Copy),
            "cut": act("Cu&t clips", self.cut_clips, K.Cut),
            "paste": act("&Paste clips", self.paste_clips, K.Paste,
                         tip="Paste at the playhead on the current track (Ctrl+V)"),
            "select_all": act("Select a&ll clips", lambda: t.set_selection({c.id for tr in self.doc.project.tracks
                                                                          for c in tr.clips}), K.SelectAll),
            "add_marker": act("Add &marker", self.add_marker, "M", tip="Add a marker at the playhead (M)"),
            "mark_in": act("Mark I&n", self.mark_in_point, "I", tip="Start the In to Out range at the playhead (I)"),
            "mark_out": act("Mark O&ut", self.mark_out_point, "O", tip="End the In to Out range at the playhead (O)"),
            "clear_in_out": act("Clear In and Out", self.clear_in_out, "Alt+X"),
            "rename_marker": act("Re&name marker...", self.rename_marker, tip="Name the marker at the playhead"),
            "delete_marker": act("Delete mar&ker", self.delete_marker, tip="Delete the marker at the playhead"),
            "next_marker": act("Ne&xt marker", lambda: self.jump_marker(1), [K("Shift+M"), K("Ctrl+Right")]),
            "prev_marker": act("Pre&vious marker", lambda: self.jump_marker(-1), [K("Ctrl+Shift+M"), K("Ctrl+Left")]),
            "mute_track": act("&Mute track", lambda on: self.set_track_flag("muted", on), checkable=True,
                              tip="Leave the current track's sound out of playback and export"),
            "lock_track": act("&Lock track", lambda on: self.set_track_flag("locked", on), checkable=True,
                              tip="Refuse edits to the current track's clips"),
            "hide_track": act("&Hide track", lambda on: self.set_track_flag("hidden", on), checkable=True,
                              tip="Leave the current track's pictures out of the monitor and export"),
            "add_track": act("&Add video track", self.add_track),
            "remove_track": act("&Remove track", self.remove_track),
            "track_up": act("Move track &up", lambda: self.move_track(-1)),
            "track_down": act("Move track do&wn", lambda: self.move_track(1)),
            "prev_frame": act("Previous frame", lambda: self.step_playhead(-1), "Left"),
            "next_frame": act("Next frame", lambda: self.step_playhead(1), "Right"),
            "start": act("Go to start", lambda: t.set_playhead(0), "Home"),
            "end": act("Go to end", lambda: t.set_playhead(self.doc.project.duration), "End"),
            "zoom_in": act("Zoom &in", lambda: t.zoom(1.25), ["+", "="]),
            "zoom_out": act("Zoom &out", lambda: t.zoom(0.8), "-"),
            "zoom_fit": act("Zoom to &fit", t.zoom_to_fit, [K("Shift+Z"), K("\\")],
                            tip="Show the whole timeline (Shift+Z or \\)"),
            "snapping": act("S&napping", self.set_snapping, "N", checkable=True,
                            tip="Snap moved and trimmed clips to edges, markers and the playhead (N)"),
            "frames": act("Show time in &frames", self.set_frames_display, checkable=True,
                          tip="Show times as frame numbers instead of HH:MM:SS:FF"),
            "generate": act("&Generate", self.panel.request_generation, "Ctrl+Return", "generate"),
            "cancel": act("&Cancel jobs", self.queue.cancel, "Ctrl+.", S.SP_BrowserStop),
            "shortcuts": act("&Keyboard shortcuts", self.show_shortcuts, "F1"),
            "about": act("&About t2vz-desktop", self.about),
            "models_folder": act("Open &Models folder", self.open_models_folder,
                                 tip="Drop diffusers folders or .safetensors checkpoints here"),
            "first_run": act("Check &GPU and models...", lambda: self.first_run_check(force=True)),
            "models": act("&Models...", self.open_models_dialog,
                          tip="What is installed, and known-good models to download"),
            "preferences": act("Pr&eferences...", lambda: open_preferences(self), K.Preferences),
        }
        # Delete acts on what the user is looking at: its keys work in the timeline and the bin
        # only (pressed in the job queue or a field they deleted the selected clip); the menu
        # item and the toolbar button work anywhere.
        for name in TIMELINE_KEYS:
            a[name].setShortcutContext(Qt.WidgetWithChildrenShortcut)
            self.removeAction(a[name])
            self.timeline.addAction(a[name])
        self.bin.addAction(a["delete"])
        undo = self.doc.undo.createUndoAction(self, "&Undo")
        undo.setShortcuts([K(K.Undo)])
        undo.setIcon(app_icon("undo"))
        redo = self.doc.undo.createRedoAction(self, "&Redo")
        redo.setShortcuts([K("Ctrl+Shift+Z"), K("Ctrl+Y")])
        redo.setIcon(app_icon("redo"))
        undo.setProperty("plain_text", "Undo")  # its text names the edit it undoes
        redo.setProperty("plain_text", "Redo")
        a["undo"], a["redo"] = undo, redo
        self._build_menus()

    def _build_menus(self) -> None:
        a, bar = self.actions_by_name, self.menuBar()

        def fill(menu, names) -> None:
            for name in names:
                menu.addSeparator() if name is None else menu.addAction(a[name])

        file = bar.addMenu("&File")
        fill(file, ("new", "open"))
        self.recent_menu = file.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        fill(file, ("save", "save_as", None, "import", "export", None, "settings", "models", "models_folder", None, "quit"))
        fill(bar.addMenu("&Edit"), ("undo", "redo", None, "cut", "copy", "paste", "select_all", None,
                                     "split", "delete", "ripple_delete", "close_gap", None, "preferences"))
        playback = bar.addMenu("&Playback")
        fill(playback, ("play", "shuttle_back", "shuttle_stop", "shuttle_forward", None,
                        "prev_frame", "next_frame", "start", "end", None, "prev_marker", "next_marker"))
        timeline = bar.addMenu("&Timeline")
        fill(timeline, ("mark_in", "mark_out", "clear_in_out", None,
                        "add_marker", "rename_marker", "delete_marker", None, "add_track", "remove_track",
                        "track_up", "track_down", None, "mute_track", "lock_track", "hide_track", None, "snapping"))
        timeline.aboutToShow.connect(self.sync_track_actions)
        fill(bar.addMenu("&Generate"), ("generate", "cancel"))
        view = bar.addMenu("&View")
        fill(view, ("zoom_in", "zoom_out", "zoom_fit", None, "frames", None))
        for dock in self.findChildren(QDockWidget):
            view.addAction(dock.toggleViewAction())
        fill(bar.addMenu("&Help"), ("shortcuts", None, "models_folder", "first_run", None, "about"))

        tools = self.addToolBar("Main")
        tools.setObjectName("main-toolbar")
        tools.setIconSize(QSize(20, 20))
        fill(tools, ("new", "open", "save", None, "import", "export", None, "undo", "redo", None,
                     "play", "split", "delete", None, "snapping", None, "generate", "cancel"))
