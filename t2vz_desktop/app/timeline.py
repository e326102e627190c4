"""The timeline widget: tracks (top wins), clips that move and trim with snapping, a playhead
that scrubs, zoom, drops from the bin or the file manager, and the audio of imported clips.

It draws the plain project model and changes it only through `ProjectDocument.edit`, so every
change is one undo step. While a mouse drag is in progress only a ghost moves; the edit is made
once, on release.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QWidget

from .document import ProjectDocument
from .media_bin import MEDIA_MIME, dropped_files
from .project import Clip, MediaItem
from .timeline_paint import AUDIO_H, HEADER_W, LANE_H, LANES, RULER_H, TRACK_H, TimelinePainting

KEY_GRAB = 6  # px around a keyframe marker that pick it
EDGE_GRAB = 6  # px from a clip's edge that start a trim instead of a move
SNAP_PX = 10
MIN_PPF, MAX_PPF = 0.5, 96.0  # pixels per frame


@dataclass
class Drag:
    mode: str  # "move", "left", "right", "scrub" or "key"
    clip_id: str = ""
    press_x: float = 0.0
    start: int = 0  # proposed values while dragging
    track_id: str = ""
    edge: int = 0
    lane: str = ""  # a keyframe drag: its lane, the key's frame and the proposed frame (source frames)
    key: int = 0
    to: int = 0


class TimelineView(TimelinePainting, QWidget):
    playhead_moved = Signal(int)
    selection_changed = Signal(str)  # clip id, "" for none
    files_dropped = Signal(list, str, int)  # [Path], track id, frame
    view_changed = Signal()  # zoom, scroll or length changed: the scroll bar follows
    menu_requested = Signal(str, object)  # "clip", "track" or "key", global QPoint: the window builds it

    def __init__(self, doc: ProjectDocument, thumbnails: Callable[[MediaItem], QPixmap] | None = None, parent=None):
        super().__init__(parent)
        self.doc = doc
        self.thumbnails = thumbnails
        self.playhead = 0
        self.ppf = 12.0
        self.scroll = 0  # px: the tracks' horizontal offset
        self.scroll_y = 0  # px: how far the tracks are scrolled up under the fixed ruler
        self.selected = ""
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
        """(track id, clip) of the selected clip when it has a recipe: keyframe lanes show under it."""
        if not self.selected:
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
        if self.selected and not any(c.id == self.selected for t in self.project.tracks for c in t.clips):
            self.select("")
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
        """The selected clips, left to right."""
        return [self.selected] if self.selected else []

    def select(self, clip_id: str) -> None:
        if clip_id != self.selected:
            self.selected = clip_id
            self.selected_key = None
            self.set_scroll_y(self.scroll_y)  # lanes open or close under the clip
            self.selection_changed.emit(clip_id)
            self.update()

    def set_zoom(self, ppf: float) -> None:
        """Zoom around the playhead, so what the user looks at stays in view."""
        anchor = self.x_of(self.playhead)
        self.ppf = min(max(ppf, MIN_PPF), MAX_PPF)
        self.set_scroll(int(self.playhead * self.ppf - (anchor - HEADER_W)))

    def zoom(self, factor: float) -> None:
        self.set_zoom(self.ppf * factor)

    def set_scroll(self, value: int) -> None:
        self.scroll = max(0, min(value, max(0, self.content_width() - (self.width() - HEADER_W) // 2)))
        self.view_changed.emit()
        self.update()

    # -- mouse --------------------------------------------------------------------------------
    def hit(self, x: float, y: float) -> tuple[Clip | None, str, str]:
        """(clip under the point, its track id, "left" | "right" | "move")."""
        track_id = self.track_at_y(y)
        if track_id is None or x < HEADER_W:
            return None, track_id or "", ""
        if y >= self.track_y(track_id) + TRACK_H:  # on the keyframe lanes, not on a clip
            return None, track_id, ""
        for clip in self.project.track(track_id).clips:
            r = self.clip_rect(clip, track_id)
            if r.left() <= x <= r.right():
                grab = min(EDGE_GRAB, r.width() / 4)
                side = "left" if x - r.left() <= grab else "right" if r.right() - x <= grab else "move"
                return clip, track_id, side
        return None, track_id, ""

    def mousePressEvent(self, event) -> None:
        x, y = event.position().x(), event.position().y()
        if event.button() != Qt.LeftButton:
            return
        if y < RULER_H and x >= HEADER_W:
            self.drag = Drag("scrub")
            self.set_playhead(self.frame_at_x(x))
            return
        on_lane = self.lane_at(x, y)
        if on_lane is not None:
            lane, key = on_lane
            self.selected_key = None if key is None else (lane, key)
            if key is not None:
                self.drag = Drag("key", self.selected, x, lane=lane, key=key, to=key)
            self.update()
            return
        clip, track_id, side = self.hit(x, y)
        if track_id:
            self.current_track = track_id
        self.select(clip.id if clip else "")
        if clip is not None:
            edge = clip.start if side == "left" else clip.end
            self.drag = Drag(side, clip.id, x, clip.start, track_id, edge)
        self.update()

    def mouseMoveEvent(self, event) -> None:
        x, y = event.position().x(), event.position().y()
        d = self.drag
        if d is None:
            _, _, side = self.hit(x, y)
            self.setCursor(Qt.SizeHorCursor if side in ("left", "right") else Qt.ArrowCursor)
            return
        if d.mode == "scrub":
            self.set_playhead(self.frame_at_x(x))
            return
        track, clip = self.project.find_clip(d.clip_id)
        if d.mode == "key":
            d.to = self.key_frame_at_x(clip, x)
            self.update()
            return
        item = self.project.media[clip.media_id]
        delta = round((x - d.press_x) / self.ppf)
        edges = self.project.edges(ignore=clip.id) + [self.playhead]
        if d.mode == "move":
            start = max(0, clip.start + delta)
            d.start = self._snap_move(start, clip.length, edges)
            d.track_id = self.track_at_y(y) or d.track_id
        elif d.mode == "left":
            lowest = clip.start - clip.in_point  # where the source's first frame would sit
            d.edge = min(max(self._snap(clip.start + delta, edges), lowest, 0), clip.end - 1)
        else:
            highest = clip.start + item.length_at(self.project.fps) - clip.in_point
            d.edge = max(min(self._snap(clip.end + delta, edges), highest), clip.start + 1)
        self.update()

    def mouseReleaseEvent(self, event) -> None:
        d, self.drag = self.drag, None
        if d is None or d.mode == "scrub":
            return
        track, clip = self.project.find_clip(d.clip_id)
        if d.mode == "key":
            if d.to != d.key:
                self.doc.edit("Move keyframe", lambda p: p.move_key(clip.media_id, d.lane, d.key, d.to))
                if any(k["frame"] == d.to for k in self.project.keys(clip.media_id, d.lane)):
                    self.selected_key = (d.lane, d.to)
        elif d.mode == "move" and (d.start != clip.start or d.track_id != track.id):
            self.doc.edit("Move clip", lambda p: p.move_clip(clip.id, d.track_id, d.start))
        elif d.mode in ("left", "right") and d.edge != (clip.start if d.mode == "left" else clip.end):
            self.doc.edit("Trim clip", lambda p: p.trim_clip(clip.id, d.mode, d.edge))
        self.update()

    def _snap(self, frame: int, edges: list[int]) -> int:
        near = min(edges, key=lambda e: abs(e - frame), default=None)
        return near if near is not None and abs(near - frame) * self.ppf <= SNAP_PX else frame

    def _snap_move(self, start: int, length: int, edges: list[int]) -> int:
        """Snap whichever end of the moved clip is nearer to an edge."""
        by_start = self._snap(start, edges) - start
        by_end = self._snap(start + length, edges) - (start + length)
        shift = min((s for s in (by_start, by_end) if s), key=abs, default=0)
        return max(0, start + shift)

    def mouseDoubleClickEvent(self, event) -> None:
        """On a keyframe lane: add a key at the frame under the mouse."""
        x, y = event.position().x(), event.position().y()
        on_lane = self.lane_at(x, y)
        if on_lane is None or on_lane[1] is not None:
            return
        lane, clip = on_lane[0], self.lane_clip()[1]
        frame = self.key_frame_at_x(clip, x)
        if self.doc.edit("Add keyframe", lambda p: p.add_key(clip.media_id, lane, frame)) is not None:
            self.selected_key = (lane, frame)
        self.update()

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key_Delete, Qt.Key_Backspace) and self.delete_selected_key():
            event.accept()
            return
        super().keyPressEvent(event)

    def contextMenuEvent(self, event) -> None:
        on_lane = self.lane_at(event.pos().x(), event.pos().y())
        if on_lane is not None:
            self.selected_key = None if on_lane[1] is None else (on_lane[0], on_lane[1])
            self.update()
            self.menu_requested.emit("key" if on_lane[1] is not None else "clip", event.globalPos())
            return
        clip, track_id, _ = self.hit(event.pos().x(), event.pos().y())
        self.menu_frame = self.frame_at_x(event.pos().x())
        if track_id:
            self.current_track = track_id
            self.select(clip.id if clip else "")
            self.update()
            self.menu_requested.emit("clip" if clip else "track", event.globalPos())

    def wheelEvent(self, event) -> None:
        """Ctrl zooms; over the track headers, or with Shift, the wheel scrolls the tracks up and
        down; elsewhere it scrolls along the time (a horizontal wheel always does)."""
        dx, dy = event.angleDelta().x(), event.angleDelta().y()
        if event.modifiers() & Qt.ControlModifier:
            self.zoom(1.25 if dy > 0 else 0.8)
        elif dx:
            self.set_scroll(self.scroll - dx)
        elif event.position().x() < HEADER_W or event.modifiers() & Qt.ShiftModifier:
            self.set_scroll_y(self.scroll_y - dy)
        else:
            self.set_scroll(self.scroll - dy)
        event.accept()

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
