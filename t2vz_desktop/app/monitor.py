"""The preview monitor: the timeline at the playhead, or, while a job denoises, the current
estimate of every frame (a filmstrip, the selected frame large) with the step count and ETA."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QSlider, QToolButton, QVBoxLayout, QWidget

from ..engine.camera import CameraKey, camera_at
from . import theme
from .images import to_qimage

MASK_TINT = (255, 64, 160)  # the foreground that background smoothing keeps, drawn over the frame


def eta_words(eta_s: float) -> str:
    """The engine's estimate of the time left, as the monitor and the queue's rows say it."""
    return f"about {eta_s:.0f} s left"


def mask_overlay(mask: np.ndarray) -> QImage:
    """A (h, w) uint8 foreground mask as a translucent tinted image (alpha follows the mask)."""
    h, w = mask.shape
    rgba = np.empty((h, w, 4), np.uint8)
    rgba[..., :3] = MASK_TINT
    rgba[..., 3] = (mask.astype(np.uint16) * 150 // 255).astype(np.uint8)
    return QImage(rgba.data, w, h, 4 * w, QImage.Format_RGBA8888).copy()


def camera_window(keys: list[CameraKey], frame: int, width: int, height: int) -> list[tuple[float, float]]:
    """Corners of what the camera sees at `frame`, in frame 0's pixels: content panned by +x
    moves right, so the view moves left; zoom 2 sees half as much; rotation turns the view back."""
    x, y, zoom, rotate = camera_at(keys, frame)
    cx, cy = width / 2 - x, height / 2 - y
    a = math.radians(rotate)
    corners = []
    for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
        dx, dy = sx * width / 2 / zoom, sy * height / 2 / zoom
        corners.append((cx + dx * math.cos(a) + dy * math.sin(a), cy - dx * math.sin(a) + dy * math.cos(a)))
    return corners


class ImageView(QWidget):
    """Shows one image scaled to fit (smoothly, so a latent-sized preview is not blocky)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.image: QImage | None = None
        self.overlay: QImage | None = None  # drawn over the image, scaled to it (the smoothing mask)
        self.camera: tuple[list[CameraKey], int, int, int] | None = None  # keys, frames, width, height
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
            if self.overlay is not None:
                p.drawImage(target, self.overlay)
        elif self.placeholder:
            p.setPen(theme.MUTED)
            p.drawText(target, Qt.AlignCenter | Qt.TextWordWrap, self.placeholder)
        if self.camera is not None:
            self._paint_camera(p, target)
        p.end()

    def _paint_camera(self, p: QPainter, target: QRect) -> None:
        """The camera path over frame 0: the view at every key (numbered), its centre's track."""
        keys, frames, width, height = self.camera
        # the generated video sits in the frame as the timeline fits it: letterboxed, centred
        scale = min(target.width() / width, target.height() / height)
        target = QRect(round(target.center().x() - width * scale / 2), round(target.center().y() - height * scale / 2),
                       round(width * scale), round(height * scale))

        def to_screen(x: float, y: float) -> QPointF:
            return QPointF(target.left() + x * scale, target.top() + y * scale)

        p.setRenderHint(QPainter.Antialiasing)
        p.setClipRect(target.adjusted(-40, -40, 40, 40))
        centres = []
        for f in range(max(frames, keys[-1].frame + 1)):
            corners = camera_window(keys, f, width, height)
            centres.append(to_screen(sum(c[0] for c in corners) / 4, sum(c[1] for c in corners) / 4))
        p.setPen(QPen(QColor(255, 220, 90), 1.5, Qt.DotLine))
        p.drawPolyline(QPolygonF(centres))
        for i, key in enumerate(keys):
            corners = [to_screen(*c) for c in camera_window(keys, key.frame, width, height)]
            first, last = i == 0, i == len(keys) - 1
            color = QColor(120, 220, 255) if first else QColor(255, 220, 90)
            p.setPen(QPen(color, 2 if first or last else 1.5, Qt.SolidLine if first or last else Qt.DashLine))
            p.setBrush(Qt.NoBrush)
            p.drawPolygon(QPolygonF(corners))
            p.drawText(corners[0] + QPointF(4, 14), f"f{key.frame}")
        if len(centres) > 1:  # an arrow head where the path ends
            a, b = centres[-2], centres[-1]
            angle = math.atan2(b.y() - a.y(), b.x() - a.x())
            if abs(b.x() - a.x()) + abs(b.y() - a.y()) > 0.01:
                head = [b, b - QPointF(math.cos(angle - 0.5) * 10, math.sin(angle - 0.5) * 10),
                        b - QPointF(math.cos(angle + 0.5) * 10, math.sin(angle + 0.5) * 10)]
                p.setBrush(QColor(255, 220, 90))
                p.drawPolygon(QPolygonF(head))


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
    volume_changed = Signal(float)  # linear gain 0..1
    mute_toggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.view = ImageView()
        self.strip = Filmstrip()
        self.strip.hide()
        self.strip.selected_changed.connect(self._show_selected)
        self.info = QLabel("Ready")
        self.info.setStyleSheet("color: #a8aab0;")
        self.info.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)  # long texts never widen the window
        self.info.setMinimumWidth(40)
        self.info.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        self.timecode = QLabel("00:00:00 / 00:00:00")
        self.show_frames = False  # times as frame numbers instead of HH:MM:SS:FF (View > Show time in frames)
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
        self._mask: np.ndarray | None = None
        self._camera: tuple | None = None
        self.show_mask = _toggle("Mask", "Show mask: while background smoothing runs, tint the foreground it keeps")
        self.show_mask.toggled.connect(lambda _: self._show_selected(self.strip.selected))
        self.show_camera = _toggle("Path", "Camera path: draw the camera keys of the generation panel over the frame")
        self.show_camera.setChecked(True)
        self.show_camera.toggled.connect(lambda _: self._update_camera())

        self.mute = _toggle("Mute", "Mute the sound of playback and scrubbing")
        self.mute.toggled.connect(self.mute_toggled)
        self.volume = QSlider(Qt.Horizontal)
        self.volume.setRange(0, 100)
        self.volume.setValue(100)
        self.volume.setFixedWidth(80)
        self.volume.setToolTip("Volume of playback (the export keeps the clips' own level)")
        self.volume.valueChanged.connect(lambda v: self.volume_changed.emit(v / 100))

        bar = QHBoxLayout()
        for w in (back, self.play_button, forward, self.timecode, self.mute, self.volume):
            bar.addWidget(w)
        bar.addWidget(self.info, 1)
        toggles = QVBoxLayout()  # beside the picture, so they never widen the window
        toggles.addWidget(self.show_camera)
        toggles.addWidget(self.show_mask)
        toggles.addStretch(1)
        top = QHBoxLayout()
        top.addWidget(self.view, 1)
        top.addLayout(toggles)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top, 1)
        layout.addWidget(self.strip)
        layout.addLayout(bar)

    @property
    def previewing(self) -> bool:
        return self._preview is not None

    # -- generation preview -------------------------------------------------------------------
    def show_preview(self, frames: np.ndarray, step: int, total: int, eta_s: float | None,
                     mask: np.ndarray | None = None) -> None:
        """Show the estimate of every frame after step `step` of `total` (and the foreground mask
        of background smoothing, when the job has one)."""
        self._preview = frames
        self._mask = mask if mask is not None and len(mask) == len(frames) else None
        self._update_camera()
        self.strip.show()
        self.strip.set_frames(frames)
        self._show_selected(self.strip.selected)
        eta = f", {eta_words(eta_s)}" if eta_s is not None else ""
        self.info.setText(f"Denoising step {step}/{total}{eta}")

    def end_preview(self) -> None:
        self._preview = None
        self._mask = None
        self.view.overlay = None
        self.strip.hide()
        self.info.setText("Ready")
        self._update_camera()

    def _show_selected(self, index: int) -> None:
        if self._preview is not None and len(self._preview):
            index = min(index, len(self._preview) - 1)
            mask = self._mask[index] if self._mask is not None and self.show_mask.isChecked() else None
            self.view.overlay = None if mask is None else mask_overlay(mask)
            self.view.set_frame(self._preview[index])

    # -- camera path --------------------------------------------------------------------------
    def set_camera_path(self, keys: list[CameraKey] | None, frames: int, width: int, height: int) -> None:
        """Camera keys to draw over the frame (None or [] : none), for a video of this size."""
        self._camera = (sorted(keys, key=lambda k: k.frame), frames, width, height) if keys else None
        self._update_camera()

    def _update_camera(self) -> None:
        show = self._camera is not None and self.show_camera.isChecked() and self._preview is None
        self.view.camera = self._camera if show else None
        self.view.update()

    # -- timeline -----------------------------------------------------------------------------
    def show_timeline_frame(self, frame: np.ndarray | None, text: str = "") -> None:
        if not self.previewing:
            self.view.set_frame(frame, text)

    def set_time(self, frame: int, total: int, fps: float, speed: int) -> None:
        """Show the playhead's time and what plays: `speed` is the signed J/K/L speed (1 for
        ordinary playback, 0 stopped), shown beside Pause when it is not 1."""
        shown = str if self.show_frames else lambda f: timecode(f, fps)
        self.timecode.setText(f"{shown(frame)} / {shown(total)}")
        self.play_button.setText("Play" if not speed else "Pause" if speed == 1 else f"Pause ({speed:+d}x)")

    def set_sound(self, volume: float, muted: bool, note: str = "") -> None:
        """Show the sound settings (volume 0..1) without emitting their signals; `note` says why
        playback is silent (no sound device), '' when it is not."""
        for widget in (self.volume, self.mute):
            widget.blockSignals(True)
        self.volume.setValue(round(volume * 100))
        self.mute.setChecked(muted)
        for widget in (self.volume, self.mute):
            widget.blockSignals(False)
        self.mute.setToolTip(note or "Mute the sound of playback and scrubbing")
        if note and not self.previewing:
            self.info.setText("No sound device: playing silently")

    def sizeHint(self) -> QSize:
        return QSize(640, 420)


def _toggle(text: str, tip: str) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setToolTip(tip)
    button.setCheckable(True)
    return button


def timecode(frame: int, fps: float) -> str:
    """HH:MM:SS:FF of `frame` at `fps` on the clock: FF counts the frames since that second began.
    A fractional rate keeps to the clock (29.97 fps shows 30 frames in most seconds and 29 in
    some, as drop-frame timecode does) rather than counting round(fps) frames to a second, which
    drifts 3.6 s an hour from the sound and the export's length."""
    fps = max(fps, 1e-6)
    seconds = math.floor(frame / fps + 1e-9)
    first = math.ceil(seconds * fps - 1e-9)  # the first frame shown in that second
    minutes, s = divmod(seconds, 60)
    hours, m = divmod(minutes, 60)
    return f"{hours:02d}:{m:02d}:{s:02d}:{frame - first:02d}"

