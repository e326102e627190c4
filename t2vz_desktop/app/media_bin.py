"""The media bin: every imported and generated video with a thumbnail. Items are dragged from
here onto the timeline; files from the file manager can be dropped here to import them."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QSize, Qt, Signal
from PySide6.QtGui import QAction, QIcon, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem, QMenu, QWidget

from ..media import MediaError, iter_frames
from .images import thumbnail
from .project import MediaItem, Project

MEDIA_MIME = "application/x-t2vz-media"
THUMB = QSize(112, 72)


def dropped_files(mime: QMimeData) -> list[Path]:
    return [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]


class MediaBin(QListWidget):
    files_dropped = Signal(list)  # [Path]
    reuse_requested = Signal(str)  # media id
    add_to_timeline = Signal(str)
    remove_requested = Signal(str)
    edit_requested = Signal(str)  # media id: "Edit with..."

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
        self.setSelectionMode(QAbstractItemView.SingleSelection)
        self._thumbs: dict[str, QPixmap] = {}  # by file path: decoding a first frame is not free
        self.itemDoubleClicked.connect(lambda item: self.add_to_timeline.emit(item.data(Qt.UserRole)))

    def refresh(self, project: Project) -> None:
        """Show the project's media (called on every project change; cheap, thumbnails cached)."""
        selected = self.selected_id()
        self.clear()
        for media in project.media.values():
            item = QListWidgetItem(QIcon(self.thumbnail_for(media)), self._label(media))
            item.setData(Qt.UserRole, media.id)
            item.setToolTip(self._tooltip(media))
            self.addItem(item)
            if media.id == selected:
                item.setSelected(True)

    def selected_id(self) -> str | None:
        items = self.selectedItems()
        return items[0].data(Qt.UserRole) if items else None

    def thumbnail_for(self, media: MediaItem) -> QPixmap:
        key = f"{media.path}|{media.offline}"
        if key not in self._thumbs:
            frame = None
            if not media.offline:
                try:
                    frame = next(iter_frames(media.path, 0, 1), None)
                except MediaError:
                    frame = None
            if frame is None:
                pixmap = QPixmap(THUMB)
                pixmap.fill(Qt.darkRed if media.offline else Qt.black)
            else:
                pixmap = thumbnail(frame, THUMB.width(), THUMB.height())
            self._thumbs[key] = pixmap
        return self._thumbs[key]

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
        if item is None:
            return
        media_id = item.data(Qt.UserRole)
        menu = QMenu(self)
        for text, signal in (("Add to timeline", self.add_to_timeline), ("Edit with...", self.edit_requested),
                             ("Re-use settings", self.reuse_requested), ("Remove from project", self.remove_requested)):
            action = QAction(text, menu)
            action.triggered.connect(lambda _=False, s=signal: s.emit(media_id))
            menu.addAction(action)
        menu.exec(event.globalPos())
