"""The timeline dock: the timeline view with its horizontal and vertical scroll bars (tracks
scroll under the fixed ruler) and its zoom buttons."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QScrollBar, QToolButton, QVBoxLayout, QWidget

from .timeline import TimelineView
from .timeline_paint import HEADER_W, RULER_H, TRACK_H


class TimelinePanel(QWidget):
    """The timeline view with its scroll bar and zoom buttons."""

    def __init__(self, view: TimelineView, parent: QWidget | None = None):
        super().__init__(parent)
        self.view = view
        self.bar = QScrollBar(Qt.Horizontal)
        self.bar.valueChanged.connect(self._scrolled)
        self.vbar = QScrollBar(Qt.Vertical)  # many tracks scroll under the ruler, not grow the window
        self.vbar.valueChanged.connect(view.set_scroll_y)
        view.view_changed.connect(self._sync)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(4, 0, 4, 0)
        for text, tip, factor in (("-", "Zoom out (-)", 0.8), ("+", "Zoom in (+)", 1.25)):
            b = QToolButton()
            b.setText(text)
            b.setToolTip(tip)
            b.clicked.connect(lambda _=False, f=factor: view.zoom(f))
            buttons.addWidget(b)
        buttons.addWidget(self.bar, 1)
        tracks = QHBoxLayout()
        tracks.setContentsMargins(0, 0, 0, 0)
        tracks.setSpacing(0)
        tracks.addWidget(view, 1)
        tracks.addWidget(self.vbar)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(tracks, 1)
        layout.addLayout(buttons)

    def _sync(self) -> None:
        self.bar.blockSignals(True)
        self.bar.setRange(0, max(0, self.view.content_width() - (self.view.width() - HEADER_W) // 2))
        self.bar.setPageStep(max(1, self.view.width() - HEADER_W))
        self.bar.setValue(self.view.scroll)
        self.bar.blockSignals(False)
        self.vbar.blockSignals(True)
        self.vbar.setRange(0, self.view.max_scroll_y())
        self.vbar.setPageStep(max(1, self.view.height() - RULER_H))
        self.vbar.setSingleStep(TRACK_H // 2)
        self.vbar.setValue(self.view.scroll_y)
        self.vbar.setVisible(self.view.max_scroll_y() > 0)
        self.vbar.blockSignals(False)

    def _scrolled(self, value: int) -> None:
        self.view.set_scroll(value)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._sync()
