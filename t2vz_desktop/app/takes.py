"""The takes grid: the videos of one batch (Variations: a batch count above 1) side by side in
the monitor area, all playing in sync on one timer, each labelled with its seed. Click picks a
take, Ctrl+click adds or drops one, double-click or "Put on timeline" hands the chosen ones to
the window; the others stay in History. Frames are decoded on a pool thread, never here."""

from __future__ import annotations

import math

from PySide6.QtCore import QObject, QRect, QRunnable, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from . import theme
from .images import fitted_image
from .pool import emit_if_alive
from .project_types import Take
from .takes_data import take_info

TILE_SIDE = 320  # px: frames are shrunk to fit this once decoded (a grid tile is never larger)
GAP = 8  # px between tiles


class _FramesSignals(QObject):
    done = Signal(str, object)  # take id, [QImage] (empty: nothing decodable)


class _LoadTake(QRunnable):
    """Decode every frame of one take, shrunk to a tile, on a pool thread."""

    def __init__(self, take_id: str, path: str, signals: _FramesSignals):
        super().__init__()
        self.take_id, self.path, self.signals = take_id, path, signals

    def run(self) -> None:
        from ..media import MediaError, iter_frames

        try:
            images = [fitted_image(f, TILE_SIDE, TILE_SIDE) for f in iter_frames(self.path)]
        except MediaError:
            images = []  # the file went away between the job and now: the tile says so
        emit_if_alive(self.signals.done, self.take_id, images)  # the grid may have closed meanwhile


class TileView(QWidget):
    """Paints the takes in a grid; the current frame of each, its seed, and whether it is chosen."""

    clicked = Signal(int, bool)  # tile index, Ctrl held
    double_clicked = Signal(int)

    def __init__(self, grid: TakesGrid):
        super().__init__(grid)
        self.grid = grid
        self.setMinimumSize(240, 160)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)

    def tile_rect(self, index: int) -> QRect:
        """Where tile `index` is drawn, in this widget's pixels."""
        n = max(1, len(self.grid.takes))
        cols = math.ceil(math.sqrt(n))
        rows = math.ceil(n / cols)
        w, h = (self.width() - GAP) // cols - GAP, (self.height() - GAP) // rows - GAP
        row, col = divmod(index, cols)
        return QRect(GAP + col * (w + GAP), GAP + row * (h + GAP), w, h)

    def index_at(self, pos) -> int:
        return next((i for i in range(len(self.grid.takes)) if self.tile_rect(i).contains(pos)), -1)

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), theme.BASE)
        p.setRenderHint(QPainter.SmoothPixmapTransform)
        for i, take in enumerate(self.grid.takes):
            cell = self.tile_rect(i)
            p.fillRect(cell, Qt.black)
            image = self.grid.image_of(take)
            if image is not None:
                scale = min(cell.width() / image.width(), (cell.height() - 22) / image.height())
                w, h = int(image.width() * scale), int(image.height() * scale)
                p.drawImage(QRect(cell.center().x() - w // 2, cell.top() + (cell.height() - 22 - h) // 2, w, h), image)
            else:
                p.setPen(theme.MUTED)
                loaded = take.item.id in self.grid.frames
                p.drawText(cell, Qt.AlignCenter, "file missing" if loaded else "loading...")
            band = QRect(cell.left(), cell.bottom() - 21, cell.width(), 22)
            p.fillRect(band, QColor(0, 0, 0, 170))
            p.setPen(theme.TEXT)
            seed = take_info(take).seed
            p.drawText(band.adjusted(6, 0, -6, 0), Qt.AlignVCenter | Qt.AlignLeft, f"{i + 1}   seed {seed}")
            chosen = take.item.id in self.grid.chosen
            if chosen:
                p.drawText(band.adjusted(6, 0, -6, 0), Qt.AlignVCenter | Qt.AlignRight, "chosen")
            p.setPen(QPen(theme.ACCENT if chosen else QColor(70, 72, 78), 3 if chosen else 1))
            p.setBrush(Qt.NoBrush)
            p.drawRect(cell.adjusted(-1, -1, 1, 1))
        p.end()

    def mousePressEvent(self, event) -> None:
        index = self.index_at(event.position().toPoint())
        if index >= 0 and event.button() == Qt.LeftButton:
            self.clicked.emit(index, bool(event.modifiers() & Qt.ControlModifier))

    def mouseDoubleClickEvent(self, event) -> None:
        index = self.index_at(event.position().toPoint())
        if index >= 0:
            self.double_clicked.emit(index)


class TakesGrid(QWidget):
    """The batch on show: `takes` in the job's order, `chosen` the ids picked so far."""

    put_requested = Signal(list)  # ids of the chosen takes, in the grid's order
    closed = Signal()  # back to the timeline without choosing: every take stays in History

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.takes: list[Take] = []
        self.chosen: set[str] = set()
        self.frames: dict[str, list[QImage]] = {}  # by take id, filled from the pool
        self.frame = 0  # the one frame counter every tile shows: what keeps them in sync
        self.above_clip = ""  # the batch came from Edit with... / Re-generate of this clip
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._tick)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)  # one decode at a time: the GUI thread keeps a core
        self._signals = _FramesSignals()  # no parent: a load may outlive the grid and still emit
        self._signals.done.connect(self._loaded)
        self.destroyed.connect(self._pool.clear)

        self.tiles = TileView(self)
        self.tiles.clicked.connect(self.choose)
        self.tiles.double_clicked.connect(lambda i: self.put([self.takes[i].item.id]))
        self.title = QLabel()
        self.title.setStyleSheet("color: #a8aab0;")
        self.title.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.title.setWordWrap(True)  # at the monitor's width it was cut mid-word
        self.play_button = QToolButton()
        self.play_button.setText("Pause")
        self.play_button.setToolTip("Play or pause every take together")
        self.play_button.clicked.connect(self.toggle_play)
        self.put_button = QPushButton("Put on timeline")
        self.put_button.setToolTip("Put the chosen takes on the timeline (one undo step); the others stay in History")
        self.put_button.clicked.connect(lambda: self.put(self.chosen_ids()))
        self.close_button = QPushButton("Back to timeline")
        self.close_button.setToolTip("Close the takes; every one of them stays in History")
        self.close_button.clicked.connect(self.closed)
        bar = QHBoxLayout()
        bar.addWidget(self.play_button)
        bar.addWidget(self.title, 1)
        bar.addWidget(self.put_button)
        bar.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.tiles, 1)
        layout.addLayout(bar)

    def set_takes(self, takes: list[Take], above_clip: str = "") -> None:
        """Show a new batch, the first take chosen, and start playing (frames load meanwhile)."""
        self.takes, self.above_clip = list(takes), above_clip
        self.chosen = {takes[0].item.id} if takes else set()
        self.frames, self.frame = {}, 0
        for take in takes:
            self._pool.start(_LoadTake(take.item.id, take.item.path, self._signals))
        fps = takes[0].item.fps if takes else 8.0
        self.timer.start(max(10, round(1000 / max(fps, 1.0))))
        self.play_button.setText("Pause")
        prompt = take_info(takes[0]).prompt if takes else ""
        short = prompt if len(prompt) <= 40 else prompt[:39] + "…"
        self.title.setText(f"{len(takes)} takes of '{short}': click to choose, Ctrl+click for more, "
                           "double-click to put one on the timeline")
        self.title.setToolTip(prompt)
        self._update()

    def chosen_ids(self) -> list[str]:
        return [t.item.id for t in self.takes if t.item.id in self.chosen]

    def choose(self, index: int, add: bool = False) -> None:
        """Pick take `index` alone, or (add: Ctrl+click) add it to or drop it from the choice."""
        take_id = self.takes[index].item.id
        if add:
            self.chosen ^= {take_id}
        else:
            self.chosen = {take_id}
        self._update()

    def put(self, ids: list[str]) -> None:
        if ids:
            self.put_requested.emit(ids)

    def toggle_play(self) -> None:
        if self.timer.isActive():
            self.timer.stop()
        elif self.takes:
            self.timer.start()
        self.play_button.setText("Pause" if self.timer.isActive() else "Play")

    def stop(self) -> None:
        self.timer.stop()
        self.play_button.setText("Play")

    def image_of(self, take: Take) -> QImage | None:
        """The frame every tile shows now (a shorter take holds its last frame until the loop)."""
        images = self.frames.get(take.item.id)
        return images[min(self.frame, len(images) - 1)] if images else None

    def wait_for_frames(self, ms: int = -1) -> bool:
        """Block until every take is decoded (tests, screenshots); results arrive as queued signals."""
        return self._pool.waitForDone(ms)

    def _tick(self) -> None:
        longest = max((len(f) for f in self.frames.values()), default=0)
        self.frame = (self.frame + 1) % longest if longest else 0
        self.tiles.update()

    def _loaded(self, take_id: str, images: list) -> None:
        if any(t.item.id == take_id for t in self.takes):
            self.frames[take_id] = images
            self.tiles.update()

    def _update(self) -> None:
        n = len(self.chosen)
        self.put_button.setEnabled(n > 0)
        self.put_button.setText("Put on timeline" if n < 2 else f"Put {n} on timeline")
        self.tiles.update()
