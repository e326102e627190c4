"""Compare: two videos (two takes, or an edited take and its source) in one dialog, side by side
or with a wipe, under one transport, with the differences of their recipes listed.

Both sides show the picture on screen at the same time t (seconds), not the same frame number,
so clips of different rates stay in sync. Time moves in ticks at the faster clip's rate (at most
TICK_RATE_MAX a second). Pictures come from the one reader's `frames_at`, a block of ticks at a
time, on a pool thread; a few blocks are kept, and the next one is decoded ahead while playing.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

from PySide6.QtCore import QElapsedTimer, QObject, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import (
    QComboBox, QDialog, QHBoxLayout, QLabel, QListWidget, QSlider, QToolButton, QVBoxLayout, QWidget,
)

from ..engine.request import GenerationRequest, RequestError
from ..media import MediaError, frames_at, probe_video, read_recipe
from .images import fitted_image
from .pool import emit_if_alive

TICK_RATE_MAX = 30.0  # ticks a second at most: the transport's step
BLOCK = 16  # ticks decoded together: one open and seek per file per block
KEEP_BLOCKS = 8
MAX_SIDE = 640  # pictures are shrunk to this: all the dialog shows


# -- recipes ---------------------------------------------------------------------------------
def recipe_fields(path: Path) -> dict | str:
    """The recipe of video `path` as flat fields (``edit.source``), or a one-line reason there is
    none to compare ("no recipe", "recipe unreadable: ...")."""
    try:
        text = read_recipe(path)
    except (MediaError, OSError) as e:
        return f"recipe unreadable: {e}"
    if text is None:
        return "no recipe"
    try:
        request = GenerationRequest.from_json(text, "the recipe")
    except RequestError as e:
        return f"recipe unreadable: {e}"
    flat: dict = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict) and value:
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else key, inner)
        else:
            flat[prefix] = value
    walk("", asdict(request))
    return flat


def _shown(value) -> str:
    text = "none" if value is None else value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def recipe_differences(left: Path, right: Path) -> list[str]:
    """One line per recipe field that differs, "field: left value → right value", or a line per
    side that has no recipe to compare."""
    a, b = recipe_fields(left), recipe_fields(right)
    if isinstance(a, str) or isinstance(b, str):
        return [f"{side} ({path.name}): {r}" for side, path, r in (("left", left, a), ("right", right, b))
                if isinstance(r, str)]
    lines = [f"{key}: {_shown(a.get(key))} \u2192 {_shown(b.get(key))}"
             for key in sorted(set(a) | set(b)) if a.get(key) != b.get(key)]
    return lines or ["the recipes are the same"]


# -- decoding --------------------------------------------------------------------------------
class _DecodeSignals(QObject):
    # left VideoInfo or None, right VideoInfo or None, what could not be read, recipe differences
    opened = Signal(object, object, str, list)
    block = Signal(int, list)  # block index, [(left QImage | None, right QImage | None)] per tick


def _open(left: Path, right: Path, signals: _DecodeSignals) -> None:
    infos, problems = [], []
    for path in (left, right):
        try:
            infos.append(probe_video(path))
        except (MediaError, OSError) as e:
            infos.append(None)
            problems.append(str(e).splitlines()[0])
    emit_if_alive(signals.opened, infos[0], infos[1], "; ".join(problems), recipe_differences(left, right))


def _pictures(path: Path | None, times: list[float]) -> list[QImage | None]:
    """The picture on screen at each time, shrunk; past the clip's end its last picture stays."""
    if path is None:
        return [None] * len(times)
    shown: list[QImage | None] = []
    converted: dict[int, QImage] = {}  # frames_at gives one array for a picture shown at several times
    try:
        for frame in frames_at(path, times):
            if id(frame) not in converted:
                converted.clear()  # the old array may be freed and its id reused
                converted[id(frame)] = fitted_image(frame, MAX_SIDE, MAX_SIDE)
            shown.append(converted[id(frame)])
    except (MediaError, OSError):
        pass  # the file broke or went away since it was opened: what was read is shown
    return shown + [shown[-1] if shown else None] * (len(times) - len(shown))


def _decode_block(paths: tuple[Path | None, Path | None], rate: float, ticks: int, index: int,
                  signals: _DecodeSignals) -> None:
    times = [k / rate for k in range(index * BLOCK, min((index + 1) * BLOCK, ticks))]
    left, right = (_pictures(p, times) for p in paths)
    emit_if_alive(signals.block, index, list(zip(left, right)))  # the dialog may have closed meanwhile


# -- the pictures ----------------------------------------------------------------------------
class ComparePictures(QWidget):
    """Two pictures side by side, or one over the other split by a divider (the wipe) that the
    mouse drags: the left video shows left of it, the right video right of it."""

    def __init__(self, labels: tuple[str, str], parent: QWidget | None = None):
        super().__init__(parent)
        self.labels = labels
        self.left: QImage | None = None
        self.right: QImage | None = None
        self.wipe_mode = False
        self.wipe = 0.5  # where the divider is, 0 (left edge) to 1 (right edge) of the picture
        self.setMinimumSize(320, 180)

    def set_pictures(self, left: QImage | None, right: QImage | None) -> None:
        self.left, self.right = left, right
        self.update()

    def _fit(self, image: QImage | None, area: QRectF) -> QRectF:
        if image is None or image.isNull():
            return area
        scale = min(area.width() / image.width(), area.height() / image.height())
        w, h = image.width() * scale, image.height() * scale
        return QRectF(area.x() + (area.width() - w) / 2, area.y() + (area.height() - h) / 2, w, h)

    def wipe_rect(self) -> QRectF:
        """Where the wipe's picture is drawn (widget pixels)."""
        return self._fit(self.left or self.right, QRectF(self.rect()))

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.SmoothPixmapTransform)
        p.fillRect(self.rect(), Qt.black)
        p.setPen(QColor(230, 230, 230))
        if self.wipe_mode:
            rect = self.wipe_rect()
            x = rect.x() + self.wipe * rect.width()
            for image, clip in ((self.left, QRectF(rect.x(), rect.y(), x - rect.x(), rect.height())),
                                (self.right, QRectF(x, rect.y(), rect.right() - x, rect.height()))):
                if image is not None:
                    p.save()
                    p.setClipRect(clip)
                    p.drawImage(rect, image)
                    p.restore()
            p.setPen(QPen(QColor(255, 255, 255), 2))
            p.drawLine(int(x), int(rect.top()), int(x), int(rect.bottom()))
            p.drawText(rect.adjusted(6, 4, -6, -4), Qt.AlignLeft | Qt.AlignTop, self.labels[0])
            p.drawText(rect.adjusted(6, 4, -6, -4), Qt.AlignRight | Qt.AlignTop, self.labels[1])
        else:
            half = (self.width() - 4) / 2
            for i, image in enumerate((self.left, self.right)):
                area = QRectF(i * (half + 4), 0, half, self.height())
                if image is not None:
                    p.drawImage(self._fit(image, area), image)
                p.drawText(area.adjusted(6, 4, -6, -4), Qt.AlignLeft | Qt.AlignTop, self.labels[i])
        p.end()

    def mousePressEvent(self, event) -> None:
        self._drag(event.position().x())

    def mouseMoveEvent(self, event) -> None:
        if event.buttons() & Qt.LeftButton:
            self._drag(event.position().x())

    def _drag(self, x: float) -> None:
        if self.wipe_mode:
            rect = self.wipe_rect()
            self.wipe = min(1.0, max(0.0, (x - rect.x()) / max(rect.width(), 1.0)))
            self.update()


# -- the dialog ------------------------------------------------------------------------------
class CompareDialog(QDialog):
    """Two videos under one transport (play/pause, a slider in time) and their recipes'
    differences. `shown_tick` is the tick whose pictures are on screen, both sides alike."""

    def __init__(self, left: Path, right: Path, parent: QWidget | None = None):
        """`left` and `right`: the video files; probing them, reading their recipes and decoding
        all happen on the dialog's pool thread."""
        super().__init__(parent)
        self.paths = (Path(left), Path(right))
        self.setWindowTitle(f"Compare {self.paths[0].name} and {self.paths[1].name}")
        self.resize(900, 560)
        self.rate, self.ticks = 8.0, 1
        self.tick, self.shown_tick = 0, None
        self._blocks: OrderedDict[int, list] = OrderedDict()
        self._pending: set[int] = set()
        self._opened: tuple[Path | None, Path | None] | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="t2vz-compare")
        # No parent: a decode still running when the dialog closes emits into a live object.
        self._signals = _DecodeSignals()
        self._signals.opened.connect(self._opened_files)
        self._signals.block.connect(self._block_ready)

        self.view = ComparePictures((self.paths[0].name, self.paths[1].name))
        self.play_button = QToolButton()
        self.play_button.setText("Play")
        self.play_button.setToolTip("Play or pause both videos (Space)")
        self.play_button.setShortcut(Qt.Key_Space)
        self.play_button.clicked.connect(self.toggle_play)
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setEnabled(False)
        self.slider.valueChanged.connect(self._show_tick)
        self.time_label = QLabel("0.00 s")
        self.mode = QComboBox()
        self.mode.addItems(["Side by side", "Wipe"])
        self.mode.setToolTip("Wipe: one picture split by a divider; drag it to move it")
        self.mode.currentIndexChanged.connect(self._mode_changed)
        self.problem = QLabel()
        self.problem.setStyleSheet("color: #ff7b72;")
        self.problem.hide()
        self.differences = QListWidget()
        self.differences.setMaximumHeight(150)
        self.differences.addItem("reading the recipes...")

        transport = QHBoxLayout()
        for widget in (self.play_button, self.slider, self.time_label, self.mode):
            transport.addWidget(widget)
        transport.setStretch(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addLayout(transport)
        layout.addWidget(self.problem)
        layout.addWidget(QLabel("Recipe differences (left \u2192 right)"))
        layout.addWidget(self.differences)

        self.clock = QElapsedTimer()
        self._play_from = 0
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._advance)
        self._pool.submit(_open, *self.paths, self._signals)

    # -- time ---------------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self._opened is not None

    def time_s(self) -> float:
        return self.tick / self.rate

    def seek(self, seconds: float) -> None:
        """Show both pictures at `seconds` (the tick at or before it)."""
        self.slider.setValue(max(0, min(self.ticks - 1, math.floor(seconds * self.rate + 1e-6))))

    def _opened_files(self, left, right, problem: str, differences: list[str]) -> None:
        self.differences.clear()
        self.differences.addItems(differences)
        infos = [i for i in (left, right) if i is not None]
        self._opened = (left and left.path, right and right.path)
        if problem:
            self.problem.setText(f"Cannot read: {problem}")
            self.problem.show()
        if not infos:
            return
        self.rate = min(TICK_RATE_MAX, max(i.fps for i in infos) or 8.0)
        self.ticks = max(1, math.ceil(max(i.duration_s for i in infos) * self.rate - 1e-6))
        self.slider.setRange(0, self.ticks - 1)
        self.slider.setEnabled(True)
        self._show_tick(self.slider.value())

    def _show_tick(self, tick: int) -> None:
        self.tick = tick
        self.time_label.setText(f"{self.time_s():.2f} s / {self.ticks / self.rate:.2f} s")
        index = tick // BLOCK
        block = self._blocks.get(index)
        if block is not None:
            self._blocks.move_to_end(index)
            self.view.set_pictures(*block[tick % BLOCK])
            self.shown_tick = tick
        else:
            self._request(index)
        if (index + 1) * BLOCK < self.ticks:
            self._request(index + 1)  # ahead of the playhead: playing does not wait at the block's end

    def _request(self, index: int) -> None:
        if self._opened is None or index in self._blocks or index in self._pending:
            return
        self._pending.add(index)
        self._pool.submit(_decode_block, self._opened, self.rate, self.ticks, index, self._signals)

    def _block_ready(self, index: int, block: list) -> None:
        self._pending.discard(index)
        self._blocks[index] = block
        while len(self._blocks) > KEEP_BLOCKS:
            self._blocks.popitem(last=False)
        if self.tick // BLOCK == index:
            self._show_tick(self.tick)

    # -- playing ------------------------------------------------------------------------------
    @property
    def playing(self) -> bool:
        return self.timer.isActive()

    def toggle_play(self) -> None:
        if self.playing:
            self.timer.stop()
        elif self.ready:
            if self.tick >= self.ticks - 1:
                self.slider.setValue(0)  # at the end: play from the start
            self._play_from = self.tick
            self.clock.start()
            self.timer.start(max(5, int(500 / self.rate)))  # twice a tick: no tick skipped by jitter
        self.play_button.setText("Pause" if self.playing else "Play")

    def _advance(self) -> None:
        # By the wall clock, not by counting timer calls, which a busy GUI thread delays.
        tick = self._play_from + int(self.clock.elapsed() / 1000 * self.rate)
        if tick >= self.ticks - 1:
            tick = self.ticks - 1
            self.toggle_play()
        if tick != self.tick:
            self.slider.setValue(tick)

    def _mode_changed(self, index: int) -> None:
        self.view.wipe_mode = index == 1
        self.view.update()

    def closeEvent(self, event) -> None:
        self.timer.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)
        super().closeEvent(event)
