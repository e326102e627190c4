"""Timeline edits in the main window (mixed in): split, delete and ripple delete, close gap,
copy, cut and paste of the selected clips, markers, tracks (add, remove, reorder, mute, lock,
hide), the timeline's context menu, and the snapping and time-display switches. Each edit slot
reads the timeline's selection, playhead and current track and makes one `doc.edit`."""

from __future__ import annotations

from PySide6.QtWidgets import QInputDialog, QMenu

from .preferences import hide_ai_items
from .project_edits import CopiedClip
from .shortcuts_dialog import ShortcutsDialog

TRACK_ACTIONS = {"muted": "mute_track", "locked": "lock_track", "hidden": "hide_track"}


class TimelineHabitsMixin:
    """Slots of MainWindow for timeline edits; reads self.doc, self.timeline and self.settings."""

    clipboard: list[CopiedClip] = []

    # -- clips ---------------------------------------------------------------------------------
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
        """Delete what has the focus: the bin's selected media, else the timeline's keyframe or clips."""
        if self.bin.hasFocus() and self.bin.selected_id():
            self.remove_media(self.bin.selected_id())
        elif self.timeline.delete_selected_key():
            return
        elif ids := self.timeline.selected_ids():
            self.doc.edit("Delete clip" if len(ids) == 1 else "Delete clips", lambda p: p.delete_clips(ids))

    def ripple_delete(self) -> None:
        """Delete the selected clips and close the space each one leaves on its track."""
        ids = self.timeline.selected_ids()
        if not ids:
            self.notify("Select a clip to ripple delete.")
            return
        self.doc.edit("Ripple delete", lambda p: p.ripple_delete(ids))

    def close_gap(self, frame: int | None = None) -> None:
        """Close the gap of the current track at `frame` (the playhead when None)."""
        track_id = self.timeline.current_track
        at = self.timeline.playhead if frame is None else frame
        closed = self.doc.edit("Close gap", lambda p: p.close_gap(track_id, at))
        if closed:
            self.notify(f"Closed a gap of {closed} frames.")

    def copy_clips(self) -> bool:
        ids = self.timeline.selected_ids()
        if not ids:
            self.notify("Select clips to copy.")
            return False
        self.clipboard = self.doc.project.copy_clips(ids)
        self.notify(f"Copied {len(ids)} clip{'s' if len(ids) > 1 else ''}.")
        return True

    def cut_clips(self) -> None:
        ids = self.timeline.selected_ids()
        if self.copy_clips():
            self.doc.edit("Cut clips", lambda p: p.delete_clips(ids))

    def paste_clips(self) -> None:
        """Paste at the playhead, the copied group's top track on the current track."""
        copied, track_id, frame = self.clipboard, self.timeline.current_track, self.timeline.playhead
        pasted = self.doc.edit("Paste clips", lambda p: p.paste_clips(copied, track_id, frame))
        if pasted:
            self.timeline.set_selection({c.id for c in pasted})

    # -- markers -------------------------------------------------------------------------------
    def add_marker(self) -> None:
        """A marker at the playhead; on an existing one, M asks for its name instead."""
        frame = self.timeline.playhead
        if self.doc.project.marker_at(frame) is not None:
            self.rename_marker()
        else:
            self.doc.edit("Add marker", lambda p: p.add_marker(frame))

    def rename_marker(self, frame: int | None = None) -> None:
        frame = self.timeline.playhead if frame is None else frame
        marker = self.doc.project.marker_at(frame)
        if marker is None:
            self.notify("No marker at the playhead: add one with M, or go to one with Shift+M.")
            return
        name = self.ask_marker_name(marker.name)
        if name is not None and name != marker.name:
            self.doc.edit("Rename marker", lambda p: p.rename_marker(frame, name))

    def ask_marker_name(self, current: str) -> str | None:
        """The marker's new name, None when cancelled (tests replace this)."""
        name, ok = QInputDialog.getText(self, "Marker", "Name:", text=current)
        return name if ok else None

    def delete_marker(self) -> None:
        frame = self.timeline.playhead
        if self.doc.project.marker_at(frame) is None:
            self.notify("No marker at the playhead to delete.")
            return
        self.doc.edit("Delete marker", lambda p: p.remove_marker(frame))

    def jump_marker(self, direction: int) -> None:
        """Move the playhead to the next (1) or previous (-1) marker."""
        project, frame = self.doc.project, self.timeline.playhead
        marker = project.next_marker(frame) if direction > 0 else project.previous_marker(frame)
        if marker is None:
            self.notify(f"No marker {'after' if direction > 0 else 'before'} the playhead.")
            return
        self.timeline.set_playhead(marker.frame, follow=True)

    # -- tracks --------------------------------------------------------------------------------
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

    def set_track_flag(self, flag: str, on: bool) -> None:
        """Mute, lock or hide the current track (the Timeline menu's switches)."""
        track = self.doc.project.track(self.timeline.current_track)
        if getattr(track, flag) != on:
            from .timeline_paint import FLAG_LABELS

            self.doc.edit(FLAG_LABELS[flag][1 if on else 2], lambda p: p.set_track_flag(track.id, flag, on))

    def sync_track_actions(self) -> None:
        """The Timeline menu's switches show the current track's state."""
        track = self.doc.project.track(self.timeline.current_track)
        for flag, name in TRACK_ACTIONS.items():
            action = self.actions_by_name[name]
            action.blockSignals(True)
            action.setChecked(getattr(track, flag))
            action.blockSignals(False)
            action.setText(f"{action.text().split(' (')[0]} ({track.name})")

    # -- view switches -------------------------------------------------------------------------
    def set_snapping(self, on: bool) -> None:
        self.timeline.snapping = on
        self.settings.setValue("timeline/snapping", on)

    def set_frames_display(self, on: bool) -> None:
        """Times as frame numbers (on) or HH:MM:SS:FF, in the monitor and on the ruler."""
        self.timeline.show_frames = self.monitor.show_frames = on
        self.settings.setValue("view/frames", on)
        self.timeline.update()
        self.show_playhead()

    def restore_view_switches(self) -> None:
        a = self.actions_by_name
        a["snapping"].setChecked(self.settings.value("timeline/snapping", True, type=bool))
        a["frames"].setChecked(self.settings.value("view/frames", False, type=bool))
        self.set_snapping(a["snapping"].isChecked())  # toggled is not sent when nothing changed
        self.set_frames_display(a["frames"].isChecked())

    def show_shortcuts(self) -> ShortcutsDialog:
        dialog = ShortcutsDialog(self.menuBar(), self)
        dialog.show()
        return dialog

    def set_interpolate(self, on: bool) -> None:
        """Smooth motion on or off for the selected clips, as one undoable edit."""
        ids = self.timeline.selected_ids()
        self.doc.edit("Smooth motion" if on else "No smooth motion", lambda p: p.set_interpolate(ids, on))

    # -- context menu --------------------------------------------------------------------------
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
            menu.addActions([a["cut"], a["copy"], a["split"], a["delete"], a["ripple_delete"]])
            menu.addSeparator()
            smooth = menu.addAction("Smooth motion (interpolate frames)")
            smooth.setCheckable(True)
            smooth.setChecked(clip.interpolate)
            smooth.setToolTip("Where the project's frame rate is above the clip's, make the frames between by "
                              "optical flow instead of repeating each frame")
            smooth.toggled.connect(lambda on: self.set_interpolate(on))
            menu.addSeparator()
            menu.addAction("Edit with...", lambda: self.edit_with(clip.id))
            if self.doc.project.media[clip.media_id].recipe:
                menu.addAction("Re-use settings", lambda: self.reuse_settings(clip.media_id))
                menu.addAction("Re-generate", lambda: self.regenerate(clip.id))
            menu.addSeparator()
        else:
            if self.doc.project.gap_at(self.timeline.current_track, self.timeline.menu_frame) is not None:
                menu.addAction("Close gap", lambda: self.close_gap(self.timeline.menu_frame))
            menu.addAction(a["paste"])
            menu.addSeparator()
        if self.doc.project.visible_clip(self.timeline.playhead) is not None:
            menu.addAction("Animate this frame", self.animate_frame)
            menu.addSeparator()
        self.sync_track_actions()
        menu.addActions([a["add_track"], a["remove_track"], a["track_up"], a["track_down"]])
        menu.addSeparator()
        menu.addActions([a["mute_track"], a["lock_track"], a["hide_track"]])
        return hide_ai_items(self, menu)  # AI features off: no Edit with..., Re-generate (preferences.py)
