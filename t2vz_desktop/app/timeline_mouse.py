"""The timeline's mouse (mixed into TimelineView): clicking, Shift/Ctrl-clicking and rubber-band
selecting clips; moving (one clip or the whole selection) and trimming with snapping; scrubbing
the ruler; keyframe drags; the track headers' mute, lock and hide buttons; the context menu and
the wheel. While a drag is in progress only a ghost moves; the edit is made once, on release.

Units: x and y are widget pixels; frames are timeline frames (keys: source frames).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QEvent, QRectF, Qt
from PySide6.QtWidgets import QToolTip

from .project import Clip
from .timeline_paint import FLAG_LABELS, HEADER_W, RULER_H, TRACK_H, flag_rect

EDGE_GRAB = 6  # px from a clip's edge that start a trim instead of a move
SNAP_PX = 10  # px within which a moved edge snaps to another
MARKER_GRAB = 6  # px around a marker on the ruler that pick it


@dataclass
class Drag:
    mode: str  # "move", "left", "right", "scrub", "key" or "band" (rubber-band selection)
    clip_id: str = ""
    press_x: float = 0.0
    start: int = 0  # proposed values while dragging
    track_id: str = ""
    edge: int = 0
    lane: str = ""  # a keyframe drag: its lane, the key's frame and the proposed frame (source frames)
    key: int = 0
    to: int = 0
    group: list[str] = field(default_factory=list)  # a move of several selected clips: all their ids
    press_y: float = 0.0  # a rubber band: where it started, where it is now, and what was selected before
    x: float = 0.0
    y: float = 0.0
    before: set[str] = field(default_factory=set)
    snap: int | None = None  # the frame a moved or trimmed edge snapped to: the snap line is drawn there


class TimelineMouse:
    """Mouse handling of TimelineView (mixed in; reads its geometry helpers, changes the project
    only through doc.edit)."""

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

    def flag_at(self, x: float, y: float) -> tuple[str, str] | None:
        """(track id, "muted" | "locked" | "hidden") of the header button under the point."""
        track_id = self.track_at_y(y)
        if track_id is None or x >= HEADER_W:
            return None
        top = self.track_y(track_id)
        return next(((track_id, flag) for k, flag in enumerate(FLAG_LABELS) if flag_rect(top, k).contains(int(x), int(y))), None)

    def event(self, event) -> bool:
        """Tooltips of the header buttons say what they do and whether they are on."""
        if event.type() == QEvent.ToolTip:
            flag = self.flag_at(event.pos().x(), event.pos().y())
            if flag is not None:
                track = self.project.track(flag[0])
                on = getattr(track, flag[1])
                QToolTip.showText(event.globalPos(), f"{FLAG_LABELS[flag[1]][2 if on else 1]} {track.name} ({FLAG_LABELS[flag[1]][3]})", self)
                return True
            QToolTip.hideText()
        return super().event(event)

    def marker_at_x(self, x: float) -> int | None:
        """Frame of the marker drawn nearest x on the ruler, within MARKER_GRAB px."""
        near = [(abs(self.x_of(m.frame) - x), m.frame) for m in self.project.markers]
        near = [n for n in near if n[0] <= MARKER_GRAB]
        return min(near)[1] if near else None

    def mousePressEvent(self, event) -> None:
        x, y = event.position().x(), event.position().y()
        if event.button() != Qt.LeftButton:
            return
        if y < RULER_H and x >= HEADER_W:
            self.drag = Drag("scrub")
            self.set_playhead(self.frame_at_x(x))
            return
        flag = self.flag_at(x, y)
        if flag is not None:
            track_id, name = flag
            on = not getattr(self.project.track(track_id), name)
            self.doc.edit(FLAG_LABELS[name][1 if on else 2], lambda p: p.set_track_flag(track_id, name, on))
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
        adding = bool(event.modifiers() & (Qt.ShiftModifier | Qt.ControlModifier))
        if clip is None:
            if track_id and x >= HEADER_W:  # empty track space: a rubber band selects what it touches
                before = set(self.selection) if adding else set()
                if not adding:
                    self.select("")
                self.drag = Drag("band", press_x=x, press_y=y, x=x, y=y, before=before)
            elif not adding:
                self.select("")
            self.update()
            return
        if adding:
            self.toggle_selected(clip.id)
            self.update()
            return
        if clip.id in self.selection and len(self.selection) > 1 and side == "move":
            group = self.selected_ids()  # drag the whole selection
            self.set_primary(clip.id)
        else:
            self.select(clip.id)
            group = [clip.id]
        if not self.project.track(track_id).locked:
            edge = clip.start if side == "left" else clip.end
            self.drag = Drag(side, clip.id, x, clip.start, track_id, edge, group=group)
        self.update()

    def mouseMoveEvent(self, event) -> None:
        x, y = event.position().x(), event.position().y()
        d = self.drag
        if d is None:
            clip, track_id, side = self.hit(x, y)
            locked = clip is not None and self.project.track(track_id).locked
            self.setCursor(Qt.ForbiddenCursor if locked else Qt.SizeHorCursor if side in ("left", "right") else Qt.ArrowCursor)
            return
        if d.mode == "scrub":
            self.set_playhead(self.frame_at_x(x))
            return
        if d.mode == "band":
            d.x, d.y = x, y
            touched = {c.id for t in self.project.tracks for c in t.clips
                       if self.clip_rect(c, t.id).intersects(self.band_rect())}
            self.set_selection(d.before | touched)
            return
        track, clip = self.project.find_clip(d.clip_id)
        if d.mode == "key":
            d.to = self.key_frame_at_x(clip, x)
            self.update()
            return
        item = self.project.media[clip.media_id]
        delta = round((x - d.press_x) / self.ppf)
        edges = self.project.edges(ignore=d.group or [clip.id]) + [self.playhead] + [m.frame for m in self.project.markers]
        if d.mode == "move":
            start = max(0, clip.start + delta)
            d.start, d.snap = self._snap_move(start, clip.length, edges)
            d.track_id = self.track_at_y(y) or d.track_id
        elif d.mode == "left":
            lowest = clip.start - clip.in_point  # where the source's first frame would sit
            d.snap = self._snap(clip.start + delta, edges)
            d.edge = min(max(clip.start + delta if d.snap is None else d.snap, lowest, 0), clip.end - 1)
        else:
            highest = clip.start + item.length_at(self.project.fps) - clip.in_point
            d.snap = self._snap(clip.end + delta, edges)
            d.edge = max(min(clip.end + delta if d.snap is None else d.snap, highest), clip.start + 1)
        if d.mode != "move" and d.snap != d.edge:
            d.snap = None  # clamped away from the edge it snapped to
        self.update()

    def mouseReleaseEvent(self, event) -> None:
        d, self.drag = self.drag, None
        if d is None or d.mode == "scrub":
            return
        if d.mode == "band":
            self.update()
            return
        track, clip = self.project.find_clip(d.clip_id)
        if d.mode == "key":
            if d.to != d.key:
                self.doc.edit("Move keyframe", lambda p: p.move_key(clip.media_id, d.lane, d.key, d.to))
                if any(k["frame"] == d.to for k in self.project.keys(clip.media_id, d.lane)):
                    self.selected_key = (d.lane, d.to)
        elif d.mode == "move" and len(d.group) > 1:
            index = [t.id for t in self.project.tracks]
            frames, tracks = d.start - clip.start, index.index(d.track_id) - index.index(track.id)
            if frames or tracks:
                self.doc.edit("Move clips", lambda p: p.move_clips(d.group, frames, tracks))
            else:  # a click without a drag picks that clip alone, as Premiere/Shotcut/Kdenlive do
                self.select(clip.id)
        elif d.mode == "move" and (d.start != clip.start or d.track_id != track.id):
            self.doc.edit("Move clip", lambda p: p.move_clip(clip.id, d.track_id, d.start))
        elif d.mode in ("left", "right") and d.edge != (clip.start if d.mode == "left" else clip.end):
            self.doc.edit("Trim clip", lambda p: p.trim_clip(clip.id, d.mode, d.edge))
        self.update()

    def band_rect(self) -> QRectF:
        d = self.drag
        return QRectF(min(d.press_x, d.x), min(d.press_y, d.y), abs(d.x - d.press_x), abs(d.y - d.press_y))

    def _snap(self, frame: int, edges: list[int]) -> int | None:
        """The edge `frame` snaps to, None when snapping is off or none is within SNAP_PX."""
        near = min(edges, key=lambda e: abs(e - frame), default=None)
        ok = self.snapping and near is not None and abs(near - frame) * self.ppf <= SNAP_PX
        return near if ok else None

    def _snap_move(self, start: int, length: int, edges: list[int]) -> tuple[int, int | None]:
        """(start, edge snapped to or None): whichever end of the moved clip is nearer an edge snaps."""
        options = [(e - start, e) for e in [self._snap(start, edges)] if e is not None]
        options += [(e - start - length, e) for e in [self._snap(start + length, edges)] if e is not None]
        if not options:
            return start, None
        shift, edge = min(options, key=lambda o: abs(o[0]))
        return (start + shift, edge) if start + shift >= 0 else (start, None)

    def mouseDoubleClickEvent(self, event) -> None:
        """On a marker: rename it; on a keyframe lane: add a key at the frame under the mouse."""
        x, y = event.position().x(), event.position().y()
        if y < RULER_H and (marker := self.marker_at_x(x)) is not None:
            self.marker_activated.emit(marker)
            return
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
            if clip is None or clip.id not in self.selection:  # a right-click inside the selection keeps it
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
