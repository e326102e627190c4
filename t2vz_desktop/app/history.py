"""The History panel (a dock): every video generated in this project, on the timeline or not,
newest first, with its thumbnail, prompt, model, seed, seconds taken and date; a search box
over the prompts, a model filter, and Re-use settings, Put on timeline and Delete file.

Thumbnails come from the media bin's pool-thread machinery (`thumbnail_for`), so nothing is
decoded here; the panel only lists, and asks the window (signals) to act."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView, QComboBox, QHBoxLayout, QLabel, QLineEdit, QListWidget, QListWidgetItem, QMenu, QPushButton,
    QVBoxLayout, QWidget,
)

from .images import letterboxed
from .project_types import MediaItem, Take
from .takes_data import take_info

ICON = QSize(96, 64)
ALL_MODELS = "All models"


def take_line(take: Take) -> str:
    """The list's text for a take, three lines: the prompt; model and seed; time taken and date."""
    info = take_info(take)
    took = f"{take.seconds:.1f} s" if take.seconds else "time not known"
    if take.batch > 1:
        took += f" for {take.batch} takes"
    when = take.created.replace("T", " ")[:16] if take.created else "date not known"
    kind = "edit: " if info.edit else ""
    missing = "[file missing] " if take.item.offline else ""
    return f"{missing}{kind}{info.prompt}\n{short_model(info.model)}  ·  seed {info.seed}\n{took}  ·  {when}"


def short_model(model: str) -> str:
    """A model as the list and the filter name it: a folder or file by its own name, a hub id
    ("org/name") or "demo" as it is."""
    return Path(model).name if Path(model).is_absolute() or model.startswith(".") else model


class HistoryPanel(QWidget):
    reuse_requested = Signal(str)  # take id
    put_requested = Signal(list)  # [take id]
    delete_requested = Signal(str)  # take id

    def __init__(self, thumbnail_for: Callable[[MediaItem], QPixmap], parent: QWidget | None = None):
        super().__init__(parent)
        self.thumbnail_for = thumbnail_for
        self.takes: list[Take] = []
        self._icons: dict[int, QIcon] = {}  # letterboxed by QPixmap.cacheKey(), as the bin keeps them
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search prompts")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._fill)
        self.model = QComboBox()
        self.model.setToolTip("Show the takes of one model")
        self.model.currentIndexChanged.connect(self._fill)
        self.list = QListWidget()
        self.list.setIconSize(ICON)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)  # a long prompt is cut, not scrolled
        self.list.setTextElideMode(Qt.ElideRight)
        self.list.setSelectionMode(QAbstractItemView.SingleSelection)
        self.list.setContextMenuPolicy(Qt.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._menu)
        self.list.itemDoubleClicked.connect(lambda item: self.put_requested.emit([item.data(Qt.UserRole)]))
        self.list.itemSelectionChanged.connect(self._enable)
        self.buttons = {}
        row = QHBoxLayout()
        for key, text, tip in (("reuse", "Re-use settings", "Load this take's recipe into the Generate panel"),
                               ("put", "Put on timeline", "Add this take to the timeline"),
                               ("delete", "Delete file", "Delete this take's video and recipe from disk")):
            button = QPushButton(text)
            button.setToolTip(tip)
            button.clicked.connect(lambda _=False, k=key: self._act(k))
            row.addWidget(button)
            self.buttons[key] = button
        filters = QHBoxLayout()
        filters.addWidget(self.search, 2)
        filters.addWidget(self.model, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(filters)
        self.empty = QLabel()  # why the list is empty: nothing generated yet, or nothing matches
        self.empty.setStyleSheet("color: #a8aab0;")
        layout.addWidget(self.empty)
        layout.addWidget(self.list, 1)
        layout.addLayout(row)
        self._enable()

    def set_takes(self, takes: list[Take]) -> None:
        """Show `takes` (oldest first, as the project keeps them) newest first."""
        self.takes = list(takes)
        models = sorted({short_model(take_info(t).model) for t in takes})
        current = self.model.currentText()
        self.model.blockSignals(True)
        self.model.clear()
        self.model.addItems([ALL_MODELS, *models])
        self.model.setCurrentText(current if current in models else ALL_MODELS)
        self.model.blockSignals(False)
        self._fill()

    def visible_ids(self) -> list[str]:
        return [self.list.item(i).data(Qt.UserRole) for i in range(self.list.count())]

    def selected_id(self) -> str | None:
        items = self.list.selectedItems()
        return items[0].data(Qt.UserRole) if items else None

    def select(self, take_id: str) -> None:
        for i in range(self.list.count()):
            if self.list.item(i).data(Qt.UserRole) == take_id:
                self.list.setCurrentRow(i)

    def refresh_thumbnails(self) -> None:
        """A thumbnail came in from the pool: show the ones that are ready (a dict look-up each)."""
        by_id = {t.item.id: t for t in self.takes}
        for i in range(self.list.count()):
            item = self.list.item(i)
            take = by_id.get(item.data(Qt.UserRole))
            if take is not None:
                item.setIcon(self._icon(self.thumbnail_for(take.item)))

    def _fill(self, *_) -> None:
        selected = self.selected_id()
        words = self.search.text().strip().lower().split()
        model = self.model.currentText()
        self.list.clear()
        for take in reversed(self.takes):
            info = take_info(take)
            if any(w not in info.prompt.lower() for w in words):
                continue
            if model not in ("", ALL_MODELS) and short_model(info.model) != model:
                continue
            item = QListWidgetItem(self._icon(self.thumbnail_for(take.item)), take_line(take))
            item.setData(Qt.UserRole, take.item.id)
            item.setToolTip(f"{take.item.path}\n{take.item.width}x{take.item.height}, {take.item.frames} frames at "
                            f"{take.item.fps:g} fps\nmodel {info.model}")
            self.list.addItem(item)
            if take.item.id == selected:
                item.setSelected(True)
        shown = self.list.count()
        self.empty.setText("" if shown else "No takes match the search." if self.takes else
                           "No takes yet: every video you generate is listed here.")
        self.empty.setVisible(not shown)
        self._enable()

    def _icon(self, pixmap: QPixmap) -> QIcon:
        key = pixmap.cacheKey()
        if key not in self._icons:
            self._icons[key] = QIcon(QPixmap.fromImage(letterboxed(pixmap.toImage(), ICON.width(), ICON.height())))
        return self._icons[key]

    def _enable(self) -> None:
        for button in self.buttons.values():
            button.setEnabled(self.selected_id() is not None)

    def _act(self, key: str, take_id: str | None = None) -> None:
        take_id = take_id or self.selected_id()
        if take_id is None:
            return
        if key == "put":
            self.put_requested.emit([take_id])
        else:
            (self.reuse_requested if key == "reuse" else self.delete_requested).emit(take_id)

    def _menu(self, pos) -> None:
        item = self.list.itemAt(pos)
        if item is None:
            return
        menu = QMenu(self)
        for key in ("reuse", "put", "delete"):
            action = QAction(self.buttons[key].text(), menu)
            action.triggered.connect(lambda _=False, k=key, i=item.data(Qt.UserRole): self._act(k, i))
            menu.addAction(action)
        menu.exec(self.list.viewport().mapToGlobal(pos))

