"""The main window's In and Out points (mixed in): I and O mark them at the playhead, Alt+X
clears them, each one undoable step; the export dialog offers the range they mark."""

from __future__ import annotations

from . import ranges


class RangesMixin:
    """Slots of MainWindow for In and Out points; reads self.doc and self.timeline."""

    def mark_in_point(self) -> None:
        frame = self.timeline.playhead
        self.doc.edit("Mark In", lambda p: ranges.set_in(p, frame))

    def mark_out_point(self) -> None:
        frame = self.timeline.playhead
        self.doc.edit("Mark Out", lambda p: ranges.set_out(p, frame))

    def clear_in_out(self) -> None:
        project = self.doc.project
        if project.mark_in is None and project.mark_out is None:
            self.notify("No In or Out point to clear.")
            return
        self.doc.edit("Clear In and Out", ranges.clear_marks)
