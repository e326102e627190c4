"""Timeline editing habits in the main window (mixed in): ripple delete and close gap, markers,
copy, cut and paste of clips, and the tracks' mute, lock and hide switches. Each slot reads the
timeline's selection, playhead and current track and makes one `doc.edit`."""

from __future__ import annotations


class TimelineHabitsMixin:
    """Slots of MainWindow for the timeline's editing habits; reads self.doc and self.timeline."""

    # -- ripple --------------------------------------------------------------------------------
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
