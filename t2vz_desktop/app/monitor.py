"""The preview monitor: the timeline at the playhead, or, while a job denoises, the current
estimate of every frame (a filmstrip, the selected frame large) with the step count and ETA."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QImage, QPainter, QPen
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from . import theme
from .images import to_qimage


class ImageView(QWidget):
    """Shows one image scaled to fit (smoothly, so a latent-sized preview is not blocky)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.image: QImage | None = None
        self.placeholder = ""
        self.aspect = 1.0  # of the empty frame drawn when there is no image
        self.setMinimumSize(160, 120)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)

    def set_frame(self, frame: np.ndarray | None, placeholder: str = "") -> None:
        self.image = None if frame is None else to_qimage(frame)
        self.placeholder = placeholder
        self.update()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), theme.BASE)
        aspect = self.image.width() / self.image.height() if self.image else self.aspect
        w = min(self.width(), int(self.height() * aspect))
        h = int(w / aspect)
        target = QRect((self.width() - w) // 2, (self.height() - h) // 2, w, h)
        p.fillRect(target, Qt.black)
        if self.image is not None:
            p.setRenderHint(QPainter.SmoothPixmapTransform)
            p.drawImage(target, self.image)
        elif self.placeholder:
            p.setPen(theme.MUTED)
            p.drawText(target, Qt.AlignCenter | Qt.TextWordWrap, self.placeholder)
        p.end()


class Filmstrip(QWidget):
    """Every frame of the video being made, side by side; a click selects one."""

    selected_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.images: list[QImage] = []
        self.selected = 0
        self.setFixedHeight(72)

    def set_frames(self, frames: np.ndarray) -> None:
        self.images = [to_qimage(f) for f in frames]
        self.selected = min(self.selected, max(len(self.images) - 1, 0))
        self.update()

    def _cell(self) -> int:
        return max(8, min(self.height() - 8, (self.width() - 8) // max(len(self.images), 1)))

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), theme.PANEL)
        cell = self._cell()
        p.setRenderHint(QPainter.SmoothPixmapTransform)
        for i, image in enumerate(self.images):
            r = QRect(4 + i * cell, 4, cell - 2, cell - 2)
            p.drawImage(r, image)
            if i == self.selected:
                p.setPen(QPen(theme.ACCENT, 2))
                p.drawRect(r.adjusted(-1, -1, 1, 1))
        p.end()

    def mousePressEvent(self, event) -> None:
        index = int((event.position().x() - 4) // self._cell())
        if 0 <= index < len(self.images):
            self.selected = index
            self.selected_changed.emit(index)
            self.update()


class PreviewMonitor(QWidget):
    play_toggled = Signal()
    step_frame = Signal(int)  # -1 / +1: one frame back or forward

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.view = ImageView()
        self.strip = Filmstrip()
        self.strip.hide()
        self.strip.selected_changed.connect(self._show_selected)
        self.info = QLabel("Ready")
        self.info.setStyleSheet("color: #a8aab0;")
        self.timecode = QLabel("00:00:00 / 00:00:00")
        self.play_button = QToolButton()
        self.play_button.setText("Play")
        self.play_button.setToolTip("Play / pause (Space)")
        self.play_button.clicked.connect(self.play_toggled)
        back, forward = QToolButton(), QToolButton()
        back.setText("<")
        forward.setText(">")
        back.clicked.connect(lambda: self.step_frame.emit(-1))
        forward.clicked.connect(lambda: self.step_frame.emit(1))
        self._preview: np.ndarray | None = None

        bar = QHBoxLayout()
        for w in (back, self.play_button, forward, self.timecode):
            bar.addWidget(w)
        bar.addStretch(1)
        bar.addWidget(self.info)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.strip)
        layout.addLayout(bar)

    @property
    def previewing(self) -> bool:
        return self._preview is not None

    # -- generation preview -------------------------------------------------------------------
    def show_preview(self, frames: np.ndarray, step: int, total: int, eta_s: float | None) -> None:
        """Show the estimate of every frame after step `step` of `total`."""
        self._preview = frames
        self.strip.show()
        self.strip.set_frames(frames)
        self._show_selected(self.strip.selected)
        eta = f", about {eta_s:.0f} s left" if eta_s is not None else ""
        self.info.setText(f"Denoising step {step}/{total}{eta}")

    def end_preview(self) -> None:
        self._preview = None
        self.strip.hide()
        self.info.setText("Ready")

    def _show_selected(self, index: int) -> None:
        if self._preview is not None and len(self._preview):
            self.view.set_frame(self._preview[min(index, len(self._preview) - 1)])

    # -- timeline -----------------------------------------------------------------------------
    def show_timeline_frame(self, frame: np.ndarray | None, text: str = "") -> None:
        if not self.previewing:
            self.view.set_frame(frame, text)

    def set_time(self, frame: int, total: int, fps: float, playing: bool) -> None:
        self.timecode.setText(f"{_timecode(frame, fps)} / {_timecode(total, fps)}")
        self.play_button.setText("Pause" if playing else "Play")

    def sizeHint(self) -> QSize:
        return QSize(640, 420)


def _timecode(frame: int, fps: float) -> str:
    seconds, rest = divmod(frame, max(round(fps), 1))
    return f"{seconds // 60:02d}:{seconds % 60:02d}:{rest:02d}"

