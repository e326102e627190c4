"""The In to Out range on the timeline: shaded on the ruler, with a bracket at each mark that is
set and a faint tint over the tracks, so the stretch an export of "In to out" takes is in view."""

from __future__ import annotations

from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QPainter, QPen

RANGE_COLOR = QColor(120, 170, 255)


def paint_in_out(p: QPainter, view, left: int, ruler_h: int) -> None:
    """Paint `view`'s (the TimelineView's) marked range; `left` is where its frames start (the
    track headers' width) and `ruler_h` the ruler's height, in pixels."""
    project = view.project
    if project.mark_in is None and project.mark_out is None:
        return
    first = project.mark_in or 0
    last = project.mark_out if project.mark_out is not None else max(project.duration, first)
    x0, x1 = max(view.x_of(first), left), min(view.x_of(last), view.width())
    if x1 > x0:
        p.fillRect(QRectF(x0, 0, x1 - x0, ruler_h), QColor(RANGE_COLOR.red(), RANGE_COLOR.green(), RANGE_COLOR.blue(), 110))
        p.fillRect(QRectF(x0, ruler_h, x1 - x0, view.height() - ruler_h),
                   QColor(RANGE_COLOR.red(), RANGE_COLOR.green(), RANGE_COLOR.blue(), 22))
    p.setPen(QPen(RANGE_COLOR, 2))
    for frame, arm in ((project.mark_in, 5), (project.mark_out, -5)):  # "[" at In, "]" at Out
        x = view.x_of(frame) if frame is not None else None
        if x is not None and left <= x <= view.width():
            p.drawLine(int(x), 1, int(x), ruler_h - 1)
            p.drawLine(int(x), 1, int(x) + arm, 1)
            p.drawLine(int(x), ruler_h - 1, int(x) + arm, ruler_h - 1)
