"""The timeline widget: tracks (top wins), the clip selection, a playhead that scrubs, zoom
(and zoom to fit), snapping on or off, keyframe lanes, drops from the bin or the file manager,
and the audio of imported clips. Its mouse is in timeline_mouse.py, its look in timeline_paint.py.

It draws the plain project model and changes it only through `ProjectDocument.edit`, so every
change is one undo step.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QWidget

from .document import ProjectDocument
from .media_bin import MEDIA_MIME, dropped_files
from .project import Clip
from .timeline_mouse import Drag, TimelineMouse
from .timeline_paint import AUDIO_H, HEADER_W, LANE_H, LANES, RULER_H, TRACK_H, TimelinePainting

KEY_GRAB = 6  # px around a keyframe marker that pick it
MIN_PPF, MAX_PPF = 0.5, 96.0  # pixels per frame


class TimelineView(TimelineMouse, TimelinePainting, QWidget):
    playhead_moved = Signal(int)
    selection_changed = Signal(str)  # clip id, "" for none
    files_dropped = Signal(list, str, int)  # [Path], track id, frame
    view_changed = Signal()  # zoom, scroll or length changed: the scroll bar follows
    menu_requested = Signal(str, object)  # "clip", "track" or "key", global QPoint: the window builds it
    marker_activated = Signal(int)  # a marker's frame: it was double-clicked on the ruler (rename it)

    def __init__(self, doc: ProjectDocument, thumbnails: Callable[..., QPixmap] | None = None, parent=None):
        super().__init__(parent)
        self.doc = doc
        self.thumbnails = thumbnails  # (media item, source frame=0) -> pixmap, decoded off the GUI thread
        self.show_lanes = True  # keyframe lanes under a selected generated clip (off with AI features)
        self.playhead = 0
        self.ppf = 12.0
        self.scroll = 0  # px: the tracks' horizontal offset
        self.scroll_y = 0  # px: how far the tracks are scrolled up under the fixed ruler
        self.selected = ""  # the clip whose lanes show and that single-clip actions take
        self.selection: set[str] = set()  # every selected clip (Shift/Ctrl-click, rubber band); holds `selected`
        self.snapping = True
        self.show_frames = False  # the ruler counts frames instead of minutes:seconds
        self.menu_frame = 0  # the frame under the last right-click: Close gap acts there
        self.selected_key: tuple[str, int] | None = None  # (lane, source frame) of the selected clip
        self.current_track = doc.project.tracks[-1].id
        self.drag: Drag | None = None
        self.drop_hint: tuple[str, int] | None = None  # (track id, frame) while something is dragged over
        self.setAcceptDrops(True)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.ClickFocus)
        doc.changed.connect(self._project_changed)

    # -- geometry -----------------------------------------------------------------------------
    @property
    def project(self):
        return self.doc.project

    def x_of(self, frame: float) -> float:
        return HEADER_W + frame * self.ppf - self.scroll

    def frame_at_x(self, x: float) -> int:
        return max(0, round((x - HEADER_W + self.scroll) / self.ppf))

    def lane_clip(self) -> tuple[str, Clip] | None:
        """(track id, clip) of the selected clip when it has a recipe: keyframe lanes show under it
        (not while AI features are off: the lanes only steer a re-generation)."""
        if not self.selected or not self.show_lanes:
            return None
        for t in self.project.tracks:
            for c in t.clips:
                if c.id == self.selected:
                    item = self.project.media.get(c.media_id)
                    return (t.id, c) if item is not None and item.recipe else None
        return None

    def track_h(self, track_id: str) -> int:
        lanes = self.lane_clip()
        return TRACK_H + (len(LANES) * LANE_H if lanes and lanes[0] == track_id else 0)

    def track_at_y(self, y: float) -> str | None:
        if y < RULER_H:  # the ruler covers what is scrolled up under it
            return None
        top = RULER_H - self.scroll_y
        for t in self.project.tracks:
            if top <= y < top + self.track_h(t.id):
                return t.id
            top += self.track_h(t.id)
        return None

    def track_y(self, track_id: str) -> int:
        top = RULER_H - self.scroll_y
        for t in self.project.tracks:
            if t.id == track_id:
                return top
            top += self.track_h(t.id)
        raise KeyError(track_id)

    def tracks_bottom(self) -> int:
        """Where the last track ends on screen (the audio lane starts there)."""
        return RULER_H - self.scroll_y + sum(self.track_h(t.id) for t in self.project.tracks)

    # -- keyframe lanes ----------------------------------------------------------------------
    def lane_y(self, lane: str) -> int | None:
        """Top of a keyframe lane of the selected clip, None when no lanes show."""
        lanes = self.lane_clip()
        return None if lanes is None else self.track_y(lanes[0]) + TRACK_H + LANES.index(lane) * LANE_H

    def key_x(self, clip: Clip, source_frame: int) -> float | None:
        """Where a key (numbered in the generated video's frames) sits, None when trimmed away."""
        item = self.project.media[clip.media_id]
        offset = item.to_project(source_frame, self.project.fps)
        if not clip.in_point <= offset < clip.out_point:
            return None
        return self.x_of(clip.start + offset - clip.in_point)

    def key_frame_at_x(self, clip: Clip, x: float) -> int:
        """The generated video's frame under x (inside the clip's used stretch)."""
        item = self.project.media[clip.media_id]
        frame = min(max(self.frame_at_x(x), clip.start), clip.end - 1)
        return item.source_frame(clip.in_point + frame - clip.start, self.project.fps)

    def lane_at(self, x: float, y: float) -> tuple[str, int | None] | None:
        """(lane, frame of the key under the point or None) when the point is on a lane of the clip."""
        lanes = self.lane_clip()
        if lanes is None or x < HEADER_W:
            return None
        _, clip = lanes
        for lane in LANES:
            top = self.lane_y(lane)
            if top <= y < top + LANE_H:
                keys = self.project.keys(clip.media_id, lane)
                near = [(abs(kx - x), k["frame"]) for k in keys
                        if (kx := self.key_x(clip, k["frame"])) is not None and abs(kx - x) <= KEY_GRAB]
                return lane, min(near)[1] if near else None
        return None

    def delete_selected_key(self) -> bool:
        lanes = self.lane_clip()
        if lanes is None or self.selected_key is None:
            return False
        media_id, (lane, frame) = lanes[1].media_id, self.selected_key
        self.selected_key = None
        self.doc.edit("Delete keyframe", lambda p: p.delete_key(media_id, lane, frame))
        return True

    def clip_rect(self, clip: Clip, track_id: str, start: int | None = None, length: int | None = None) -> QRectF:
        start = clip.start if start is None else start
        length = clip.length if length is None else length
        return QRectF(self.x_of(start), self.track_y(track_id) + 3, length * self.ppf, TRACK_H - 6)

    def content_width(self) -> int:
        """Pixels the whole timeline needs, with room after the end to drop more clips."""
        return int((self.project.duration + 10 * max(self.project.fps, 1)) * self.ppf)

    def needed_height(self) -> int:
        """Height that shows every track and the audio lane unscrolled."""
        return self.tracks_bottom() + self.scroll_y + AUDIO_H

    def minimumSizeHint(self) -> QSize:
        return QSize(HEADER_W + 120, RULER_H + TRACK_H + AUDIO_H)  # one track and the audio lane

    def sizeHint(self) -> QSize:
        return QSize(800, min(self.needed_height(), RULER_H + 4 * TRACK_H + AUDIO_H))

    def max_scroll_y(self) -> int:
        return max(0, self.needed_height() - self.height())

    def set_scroll_y(self, value: int) -> None:
        self.scroll_y = max(0, min(value, self.max_scroll_y()))
        self.view_changed.emit()
        self.update()

    def _project_changed(self) -> None:
        ids = {t.id for t in self.project.tracks}
        if self.current_track not in ids:
            self.current_track = self.project.tracks[-1].id
        present = {c.id for t in self.project.tracks for c in t.clips}
        if self.selection - present:
            self.set_selection(self.selection & present)
        lanes = self.lane_clip()
        if self.selected_key and (lanes is None or not any(
                k["frame"] == self.selected_key[1] for k in self.project.keys(lanes[1].media_id, self.selected_key[0]))):
            self.selected_key = None
        self.set_scroll_y(self.scroll_y)  # fewer tracks may leave nothing to scroll
        self.view_changed.emit()
        self.update()

    # -- state the window drives ------------------------------------------------------------
    def set_playhead(self, frame: int, follow: bool = False) -> None:
        frame = max(0, frame)
        if follow:  # keep the playhead in view while playing
            x = self.x_of(frame)
            if x > self.width() - 20 or x < HEADER_W:
                self.set_scroll(int(frame * self.ppf - (self.width() - HEADER_W) * 0.2))
        if frame != self.playhead:
            self.playhead = frame
            self.playhead_moved.emit(frame)
            self.update()

    def selected_ids(self) -> list[str]:
        """The selected clips, left to right (top track first at the same frame)."""
        order = [(c.start, k, c.id) for k, t in enumerate(self.project.tracks) for c in t.clips if c.id in self.selection]
        return [i for _, _, i in sorted(order)]

    def select(self, clip_id: str) -> None:
        """Select one clip alone ("" selects nothing)."""
        self.set_selection({clip_id} if clip_id else set(), clip_id)

    def set_selection(self, ids: set[str], primary: str | None = None) -> None:
        """Select clips `ids`; `primary` (default: the current one if still selected, else the
        first) is the one whose keyframe lanes show."""
        self.selection = set(ids)
        if primary is None:
            primary = self.selected if self.selected in ids else (self.selected_ids() or [""])[0]
        self.set_primary(primary)
        self.update()

    def set_primary(self, clip_id: str) -> None:
        if clip_id != self.selected:
            self.selected = clip_id
            self.selected_key = None
            self.set_scroll_y(self.scroll_y)  # lanes open or close under the clip
            self.selection_changed.emit(clip_id)
            self.update()

    def toggle_selected(self, clip_id: str) -> None:
        """Shift/Ctrl-click: add a clip to the selection, or take it out."""
        ids = self.selection ^ {clip_id}
        self.set_selection(ids, clip_id if clip_id in ids else None)

    def set_zoom(self, ppf: float) -> None:
        """Zoom around the playhead, so what the user looks at stays in view."""
        anchor = self.x_of(self.playhead)
        self.ppf = min(max(ppf, MIN_PPF), MAX_PPF)
        self.set_scroll(int(self.playhead * self.ppf - (anchor - HEADER_W)))

    def zoom(self, factor: float) -> None:
        self.set_zoom(self.ppf * factor)

    def zoom_to_fit(self) -> None:
        """Zoom so the whole timeline, from its start to its last clip's end, fills the view."""
        room = max(1, self.width() - HEADER_W - 16)
        self.ppf = min(max(room / max(self.project.duration, 1), MIN_PPF), MAX_PPF)
        self.set_scroll(0)

    def set_scroll(self, value: int) -> None:
        self.scroll = max(0, min(value, max(0, self.content_width() - (self.width() - HEADER_W) // 2)))
        self.view_changed.emit()
        self.update()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.set_scroll_y(self.scroll_y)

    # -- drops --------------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        mime = event.mimeData()
        if mime.hasFormat(MEDIA_MIME) or mime.hasUrls():
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        track_id = self.track_at_y(event.position().y())
        if track_id is None:
            self.drop_hint = None
            event.ignore()
        else:
            self.drop_hint = (track_id, self.frame_at_x(event.position().x()))
            event.acceptProposedAction()
        self.update()

    def dragLeaveEvent(self, event) -> None:
        self.drop_hint = None
        self.update()

    def dropEvent(self, event) -> None:
        self.drop_hint = None
        track_id = self.track_at_y(event.position().y()) or self.current_track
        frame = self.frame_at_x(event.position().x())
        mime = event.mimeData()
        if mime.hasFormat(MEDIA_MIME):
            media_id = bytes(mime.data(MEDIA_MIME)).decode()
            clip = self.doc.edit("Add clip", lambda p: p.add_clip(track_id, media_id, frame))
            if clip is not None:
                self.select(clip.id)
        else:
            files: list[Path] = dropped_files(mime)
            self.files_dropped.emit(files, track_id, frame)
        event.acceptProposedAction()
        self.update()
