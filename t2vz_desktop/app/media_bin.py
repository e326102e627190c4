"""The media bin: every imported and generated video with a thumbnail. Items are dragged from
here onto the timeline; files from the file manager can be dropped here to import them."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QMimeData, QObject, QRunnable, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QAction, QIcon, QImage, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem, QMenu, QWidget

from ..media import MediaError, iter_frames
from .images import fitted_image, letterboxed
from .pool import emit_if_alive
from .preferences import hide_ai_items
from .project import MediaItem, Project

MEDIA_MIME = "application/x-t2vz-media"
THUMB = QSize(112, 72)


def dropped_files(mime: QMimeData) -> list[Path]:
    return [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]


def _edit_source(recipe: str | None) -> str | None:
    """The source video an edit's recipe names (edit.source), else None."""
    try:
        edit = json.loads(recipe).get("edit") if recipe else None
    except (ValueError, AttributeError, RecursionError):
        return None  # the recipe is checked where it is used; here it only offers a menu entry
    source = edit.get("source") if isinstance(edit, dict) else None
    return source if isinstance(source, str) and source else None


class _ThumbnailSignals(QObject):
    done = Signal(str, object)  # key, QImage or None (nothing decodable)
    failed = Signal(str, object)  # key, the unexpected exception


class _ThumbnailJob(QRunnable):
    """Decode one frame of a file (its first, or one of a timeline filmstrip) and shrink it, on a
    pool thread: an 8192x8192 frame costs about a second, which on the GUI thread froze the window."""

    def __init__(self, key: str, path: str, signals: _ThumbnailSignals, frame: int = 0):
        super().__init__()
        self.key, self.path, self.signals, self.frame = key, path, signals, frame

    def run(self) -> None:
        try:
            frame = next(iter_frames(self.path, self.frame, self.frame + 1), None)
            image = None if frame is None else fitted_image(frame, THUMB.width(), THUMB.height())
        except MediaError:
            image = None  # import already said what is wrong with the file: a black thumbnail
        except Exception as e:  # noqa: BLE001 - a bug: reported on the GUI thread
            emit_if_alive(self.signals.failed, self.key, e)
            image = None
        emit_if_alive(self.signals.done, self.key, image)


class MediaBin(QListWidget):
    files_dropped = Signal(list)  # [Path]
    reuse_requested = Signal(str)  # media id
    add_to_timeline = Signal(str)
    remove_requested = Signal(str)
    edit_requested = Signal(str)  # media id: "Edit with..."
    compare_requested = Signal(str, str)  # two video paths, left and right: "Compare", "Compare with source"
    thumbnail_ready = Signal()  # a thumbnail came in from the pool: whoever draws them repaints
    thumbnail_failed = Signal(object)  # an unexpected exception while thumbnailing

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setViewMode(QListWidget.IconMode)
        self.setIconSize(THUMB)
        self.setGridSize(QSize(THUMB.width() + 16, THUMB.height() + 36))
        self.setResizeMode(QListWidget.Adjust)
        self.setMovement(QListWidget.Static)
        self.setWordWrap(True)
        self.setSpacing(6)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDrop)
        self.viewport().setAcceptDrops(True)  # drops land on the viewport, not the view
        self.setSelectionMode(QAbstractItemView.ExtendedSelection)  # Ctrl+click a second take to compare
        self._thumbs: dict[str, QPixmap] = {}  # by file path: decoding a first frame is not free
        self._tiles: dict[int, QIcon] = {}  # letterboxed thumbnails by QPixmap.cacheKey(): refresh runs on every edit
        self._pending: set[str] = set()
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)  # one decode at a time: the GUI thread keeps a core
        self._signals = _ThumbnailSignals()  # no parent: a job may outlive the bin and still emit
        self._signals.done.connect(self._thumbnail_done)
        self._signals.failed.connect(lambda key, e: self.thumbnail_failed.emit(e))
        self._loading = QPixmap(THUMB)
        self._loading.fill(Qt.darkGray)
        self.destroyed.connect(self._pool.clear)
        self.itemDoubleClicked.connect(lambda item: self.add_to_timeline.emit(item.data(Qt.UserRole)))

    def refresh(self, project: Project) -> None:
        """Show the project's media (called on every project change; cheap, thumbnails cached)."""
        selected = {item.data(Qt.UserRole) for item in self.selectedItems()}
        self.clear()
        for media in project.media.values():
            item = QListWidgetItem(self._icon(self.thumbnail_for(media)), self._label(media))
            item.setData(Qt.UserRole, media.id)
            item.setData(Qt.UserRole + 1, media.path)
            item.setData(Qt.UserRole + 2, _edit_source(media.recipe))
            item.setToolTip(self._tooltip(media))
            self.addItem(item)
            if media.id in selected:
                item.setSelected(True)

    def selected_id(self) -> str | None:
        items = self.selectedItems()
        return items[0].data(Qt.UserRole) if items else None

    def thumbnail_for(self, media: MediaItem, frame: int = 0) -> QPixmap:
        """The cached thumbnail of source frame `frame` (the bin shows frame 0; the timeline's
        filmstrips others) at its own aspect (no bars: the timeline crops it into its clips); the
        first call for a frame returns a grey placeholder at once and makes the thumbnail on a
        pool thread (thumbnail_ready says when it is in)."""
        key = f"{media.path}|{media.offline}" + (f"@{frame}" if frame else "")
        if key in self._thumbs:
            return self._thumbs[key]
        if media.offline:
            pixmap = QPixmap(THUMB)
            pixmap.fill(Qt.darkRed)
            self._thumbs[key] = pixmap
            return pixmap
        if key not in self._pending:
            self._pending.add(key)
            self._pool.start(_ThumbnailJob(key, media.path, self._signals, frame))
        return self._loading

    def pending_thumbnails(self) -> int:
        return len(self._pending)

    def wait_for_thumbnails(self, ms: int = -1) -> bool:
        """Block until the pool is idle (closing, tests); the results arrive as queued signals."""
        return self._pool.waitForDone(ms)

    def _thumbnail_done(self, key: str, image: QImage | None) -> None:
        self._pending.discard(key)
        if image is None:
            pixmap = QPixmap(THUMB)
            pixmap.fill(Qt.black)
        else:
            pixmap = QPixmap.fromImage(image)
        self._thumbs[key] = pixmap
        path, state = key.rsplit("|", 1)
        if "@" in state:  # a filmstrip's frame: the bin's tiles keep the first frame
            self.thumbnail_ready.emit()
            return
        for row in range(self.count()):  # the items of this file show it now
            item = self.item(row)
            if item.data(Qt.UserRole + 1) == path:
                item.setIcon(self._icon(pixmap))
        self.thumbnail_ready.emit()

    def _icon(self, pixmap: QPixmap) -> QIcon:
        """The bin's tile: the thumbnail letterboxed to the tile's size, so tiles line up (made once
        per thumbnail: 3,000 tiles cost ~50 ms, and refresh runs on every project change)."""
        key = pixmap.cacheKey()
        if key not in self._tiles:
            self._tiles[key] = QIcon(QPixmap.fromImage(letterboxed(pixmap.toImage(), THUMB.width(), THUMB.height())))
        return self._tiles[key]

    @staticmethod
    def _label(media: MediaItem) -> str:
        name = media.name if len(media.name) <= 22 else media.name[:20] + "..."
        return f"{'[offline] ' if media.offline else ''}{name}"

    @staticmethod
    def _tooltip(media: MediaItem) -> str:
        kind = "generated" if media.generated else "imported"
        audio = ", with audio" if media.has_audio else ""
        return f"{media.path}\n{kind}: {media.width}x{media.height}, {media.frames} frames at {media.fps:g} fps{audio}"

    # -- drag from here, drop files in --------------------------------------------------------
    def mimeData(self, items: list[QListWidgetItem]) -> QMimeData:
        mime = QMimeData()
        if items:
            mime.setData(MEDIA_MIME, items[0].data(Qt.UserRole).encode())
        return mime

    def mimeTypes(self) -> list[str]:
        return [MEDIA_MIME, "text/uri-list"]

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.CopyAction

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            event.ignore()  # our own items are not re-ordered

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:
        files = dropped_files(event.mimeData())
        if files:
            event.acceptProposedAction()
            self.files_dropped.emit(files)

    def contextMenuEvent(self, event) -> None:
        item = self.itemAt(event.pos())
        if item is not None:
            self.context_menu(item).exec(event.globalPos())

    def context_menu(self, item: QListWidgetItem) -> QMenu:
        """The right-click menu of `item`; Compare when it is one of two selected items, Compare
        with source when it is an edit whose recipe names its source video."""
        media_id = item.data(Qt.UserRole)
        menu = QMenu(self)
        selected = self.selectedItems()
        pairs = []
        if len(selected) == 2 and item in selected:
            pairs.append(("Compare", *(i.data(Qt.UserRole + 1) for i in selected)))
        if item.data(Qt.UserRole + 2):
            pairs.append(("Compare with source", item.data(Qt.UserRole + 2), item.data(Qt.UserRole + 1)))
        for text, left, right in pairs:
            action = QAction(text, menu)
            action.triggered.connect(lambda _=False, a=left, b=right: self.compare_requested.emit(a, b))
            menu.addAction(action)
        for text, signal in (("Add to timeline", self.add_to_timeline), ("Edit with...", self.edit_requested),
                             ("Re-use settings", self.reuse_requested), ("Remove from project", self.remove_requested)):
            action = QAction(text, menu)
            action.triggered.connect(lambda _=False, s=signal: s.emit(media_id))
            menu.addAction(action)
        return hide_ai_items(self.window(), menu)  # AI features off: no Edit with... (preferences.py)
