"""The timeline's look: its sizes, and the painting of the ruler with its markers, track headers
with their mute, lock and hide buttons, clips (with thumbnails), keyframe lanes, the audio lane,
the drag ghost, the rubber band, the snap line and the playhead."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPen, QPolygonF

from . import theme
from .project import Clip, MediaItem
from .range_paint import paint_in_out
from .waveform import paint_clip_waveform

RULER_H, TRACK_H, AUDIO_H, HEADER_W = 24, 52, 28, 64
LANE_H = 16  # each keyframe lane under a selected generated clip
LANES = ("camera", "prompt")
# a track header's switches: the button's letter, the edit's name on and off, what it does
FLAG_LABELS = {
    "muted": ("M", "Mute track", "Unmute track", "its sound is left out of playback and export"),
    "locked": ("L", "Lock track", "Unlock track", "its clips cannot be moved, trimmed or deleted"),
    "hidden": ("H", "Hide track", "Show track", "its pictures are left out of the monitor and export"),
}
FLAG_COLORS = {"muted": QColor(200, 70, 60), "locked": QColor(220, 170, 50), "hidden": QColor(110, 110, 120)}
MARKER_COLOR = QColor(90, 200, 120)
FILMSTRIP_MIN_TILES = 3  # a clip at least this many thumbnails wide shows a filmstrip instead of one


def filmstrip(clip: Clip, item: MediaItem, fps: float, ppf: float, tile_w: int) -> list[tuple[int, int]]:
    """(px from the clip's left, source frame) of each tile of a clip's filmstrip at `ppf` pixels
    per timeline frame: one tile every `tile_w` px, showing the source frame at its left edge
    rounded down to a power-of-two step no longer than a tile, so tiles show different frames
    and zooming or scrolling asks again for frames already decoded."""
    per_tile = tile_w / ppf  # timeline frames under one tile
    source_per_tile = per_tile * (item.fps / fps if item.fps and fps else 1.0)
    step = 1 << max(0, math.floor(math.log2(max(source_per_tile, 1.0))))
    count = math.ceil(clip.length / per_tile)
    return [(k * tile_w, item.source_frame(clip.in_point + int(k * per_tile), fps) // step * step) for k in range(count)]


def flag_rect(track_top: int, index: int) -> QRect:
    """The header button of switch number `index` (FLAG_LABELS' order) of a track at `track_top`."""
    return QRect(4 + index * 20, track_top + TRACK_H - 22, 18, 16)


class TimelinePainting:
    """paintEvent of TimelineView (mixed in; reads its geometry helpers and state, changes nothing)."""

    # -- painting ------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), theme.BASE)
        for i, track in enumerate(self.project.tracks):
            y = self.track_y(track.id)
            p.fillRect(QRect(HEADER_W, y, self.width(), self.track_h(track.id) - 1), theme.BACKGROUND if i % 2 else theme.BASE)
            for clip in track.clips:
                self._paint_clip(p, clip, track.id)
        self._paint_lanes(p)
        self._paint_audio_lane(p)
        self._paint_ghost(p)
        self._paint_headers(p)
        self._paint_ruler(p)  # after the tracks: tracks scrolled up go under it
        paint_in_out(p, self, HEADER_W, RULER_H)
        self._paint_markers(p)
        self._paint_snap_and_band(p)
        x = self.x_of(self.playhead)
        if x >= HEADER_W:
            p.setPen(QPen(theme.PLAYHEAD, 2))
            p.drawLine(int(x), 0, int(x), self.height())
            p.setBrush(theme.PLAYHEAD)
            p.drawRect(int(x) - 4, 0, 8, 8)
        p.end()

    def _paint_ruler(self, p: QPainter) -> None:
        p.fillRect(QRect(0, 0, self.width(), RULER_H), theme.PANEL)
        fps = max(self.project.fps, 1)
        # a labelled tick every 1, 2, 5, 10... seconds (or frames), so labels never crowd
        if self.show_frames:
            every = next(s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 10**4, 10**5, 10**6) if s * self.ppf >= 50)
            label = str
        else:
            seconds = next(s for s in (1, 2, 5, 10, 30, 60, 300, 600, 3600) if s * fps * self.ppf >= 70)
            every = seconds * fps
            label = lambda f: f"{round(f / fps) // 60}:{round(f / fps) % 60:02d}"  # noqa: E731
        p.setPen(theme.MUTED)
        first = int(self.frame_at_x(HEADER_W) // every)
        last = int(self.frame_at_x(self.width()) // every) + 1
        for k in range(first, last + 1):
            x = int(self.x_of(k * every))
            if x >= HEADER_W:
                p.drawLine(x, RULER_H - 8, x, RULER_H)
                p.drawText(x + 3, RULER_H - 10, label(round(k * every)))

    def _paint_markers(self, p: QPainter) -> None:
        """Each marker: a flag on the ruler with its name (as far as the next marker leaves room)
        and a faint line down through the tracks."""
        markers = self.project.markers
        for i, m in enumerate(markers):
            x = self.x_of(m.frame)
            if x < HEADER_W - 60 or x > self.width():
                continue
            if x >= HEADER_W:
                p.setPen(QPen(MARKER_COLOR.darker(130), 1, Qt.DotLine))
                p.drawLine(int(x), RULER_H, int(x), self.height())
                p.setPen(Qt.NoPen)
                p.setBrush(MARKER_COLOR)
                p.drawPolygon(QPolygonF([QPointF(x, RULER_H), QPointF(x - 5, RULER_H - 8), QPointF(x - 5, 1),
                                         QPointF(x + 5, 1), QPointF(x + 5, RULER_H - 8)]))
            room = (self.x_of(markers[i + 1].frame) if i + 1 < len(markers) else self.width()) - x - 10
            if m.name and room > 16:
                text = p.fontMetrics().elidedText(m.name, Qt.ElideRight, int(room))
                box = QRectF(max(x + 7, HEADER_W), 1, room, RULER_H - 10)
                p.fillRect(QRectF(box.left() - 1, 1, p.fontMetrics().horizontalAdvance(text) + 4, RULER_H - 10), theme.PANEL)
                p.setPen(MARKER_COLOR.lighter(130))
                p.drawText(box, Qt.AlignLeft | Qt.AlignVCenter, text)

    def _paint_snap_and_band(self, p: QPainter) -> None:
        d = self.drag
        if d is not None and d.snap is not None and d.mode in ("move", "left", "right"):
            x = int(self.x_of(d.snap))
            p.setPen(QPen(theme.ACCENT.lighter(130), 1, Qt.DashLine))
            p.drawLine(x, 0, x, self.height())
        if d is not None and d.mode == "band":
            p.setPen(QPen(theme.ACCENT, 1))
            p.setBrush(QColor(theme.ACCENT.red(), theme.ACCENT.green(), theme.ACCENT.blue(), 50))
            p.drawRect(self.band_rect())

    def _paint_clip(self, p: QPainter, clip: Clip, track_id: str) -> None:
        rect = self.clip_rect(clip, track_id)
        if rect.right() < HEADER_W or rect.left() > self.width():
            return
        item = self.project.media[clip.media_id]
        d = self.drag
        dragging = d is not None and d.mode in ("move", "left", "right") and (d.clip_id == clip.id or clip.id in d.group)
        color = QColor(theme.GENERATED_CLIP if item.generated else theme.CLIP)
        if item.offline:
            color = QColor(120, 40, 40)
        track = self.project.track(track_id)
        if track.hidden:  # greyed: it is not shown or exported
            color = QColor(90, 90, 96)
        if dragging:
            color.setAlpha(90)
        selected = clip.id in self.selection
        p.setPen(QPen(QColor(255, 255, 255), 2) if selected else QPen(color.darker(150), 1))
        p.setBrush(color)
        p.drawRoundedRect(rect, 3, 3)
        self._paint_clip_content(p, rect.adjusted(3, 3, -3, -3), clip, item, track.hidden)
        if track.locked:  # hatched over its pictures: it takes no edits
            p.setBrush(QBrush(QColor(0, 0, 0, 110), Qt.BDiagPattern))
            p.setPen(Qt.NoPen)
            p.drawRoundedRect(rect, 3, 3)

    def _paint_clip_content(self, p: QPainter, inner: QRectF, clip: Clip, item: MediaItem, hidden: bool) -> None:
        """A clip's thumbnail (or filmstrip, when wide) and name inside its box."""
        label = ("OFFLINE " if item.offline else "") + item.name
        if self.thumbnails is not None and inner.width() > 40 and not item.offline:
            thumb = self.thumbnails(item)
            h = int(inner.height())
            tile_w = max(8, int(h * thumb.width() / max(thumb.height(), 1)))
            if hidden:
                p.setOpacity(0.35)
            if inner.width() >= FILMSTRIP_MIN_TILES * tile_w:
                self._paint_filmstrip(p, inner, clip, item, tile_w)
                p.setOpacity(1.0)
                text = p.fontMetrics().elidedText(label, Qt.ElideRight, int(inner.width()) - 8)
                box = QRectF(inner.left(), inner.top(), p.fontMetrics().horizontalAdvance(text) + 8, p.fontMetrics().height() + 2)
                p.fillRect(box, QColor(0, 0, 0, 150))  # the name stays readable over the pictures
                p.setPen(theme.TEXT)
                p.drawText(box, Qt.AlignCenter, text)
                return
            w = min(tile_w, int(inner.width()) - 4)
            source = QRect(0, 0, int(w * thumb.height() / h), thumb.height())  # crop, never squash
            p.drawPixmap(QRect(int(inner.left()), int(inner.top()), w, h), thumb, source)
            p.setOpacity(1.0)
            inner.setLeft(inner.left() + w + 4)
        p.setPen(theme.TEXT)
        p.drawText(inner, Qt.AlignLeft | Qt.AlignVCenter, p.fontMetrics().elidedText(label, Qt.ElideRight, int(inner.width())))

    def _paint_filmstrip(self, p: QPainter, inner: QRectF, clip: Clip, item, tile_w: int) -> None:
        """Thumbnails side by side along a wide clip, each of the frame at its left edge; only the
        tiles on screen are asked for (each decoded once, off the GUI thread, by the bin's cache)."""
        p.save()
        p.setClipRect(inner.intersected(QRectF(HEADER_W, 0, self.width() - HEADER_W, self.height())))
        h = int(inner.height())
        for dx, frame in filmstrip(clip, item, self.project.fps, self.ppf, tile_w):
            x = inner.left() + dx
            if x + tile_w < HEADER_W or x > self.width():
                continue
            thumb = self.thumbnails(item, frame)
            p.drawPixmap(QRect(int(x), int(inner.top()), tile_w, h), thumb)
            p.fillRect(QRectF(x + tile_w - 1, inner.top(), 1, h), QColor(0, 0, 0, 120))  # tile border
        p.restore()

    def _paint_lanes(self, p: QPainter) -> None:
        """Camera and prompt keyframe lanes under the selected generated clip, keys as diamonds."""
        lanes = self.lane_clip()
        if lanes is None:
            return
        _, clip = lanes
        left, right = self.x_of(clip.start), self.x_of(clip.end)
        colors = {"camera": QColor(120, 200, 255), "prompt": QColor(255, 190, 90)}
        for lane in LANES:
            top = self.lane_y(lane)
            p.fillRect(QRectF(HEADER_W, top, self.width(), LANE_H - 1), theme.PANEL.darker(120))
            p.fillRect(QRectF(left, top + 1, right - left, LANE_H - 3), colors[lane].darker(400))
            keys = self.project.keys(clip.media_id, lane)
            for i, k in enumerate(keys):
                frame = k["frame"]
                if self.drag is not None and self.drag.mode == "key" and self.drag.lane == lane and self.drag.key == frame:
                    frame = self.drag.to
                x = self.key_x(clip, frame)
                if x is None:
                    continue
                cy, r = top + LANE_H / 2 - 0.5, LANE_H / 2 - 2
                diamond = QPolygonF([QPointF(x, cy - r), QPointF(x + r, cy), QPointF(x, cy + r), QPointF(x - r, cy)])
                selected = self.selected_key == (lane, k["frame"])
                p.setPen(QPen(QColor(255, 255, 255), 2) if selected else QPen(colors[lane].darker(160), 1))
                p.setBrush(colors[lane].lighter(130) if selected else colors[lane])
                p.drawPolygon(diamond)
                if lane == "prompt":  # the prompt, as far as the next key leaves room
                    following = [self.key_x(clip, n["frame"]) for n in keys[i + 1:]]
                    room = min([f for f in following if f is not None] + [right]) - x - r - 6
                    if room > 24:
                        p.setPen(theme.TEXT)
                        text = p.fontMetrics().elidedText(k["prompt"], Qt.ElideRight, int(room))
                        p.drawText(QRectF(x + r + 3, top, room, LANE_H), Qt.AlignVCenter, text)

    def _paint_audio_lane(self, p: QPainter) -> None:
        y = self.tracks_bottom()
        p.fillRect(QRect(HEADER_W, y, self.width(), AUDIO_H), theme.PANEL.darker(115))
        for track in self.project.tracks:
            for clip in track.clips:
                item = self.project.media[clip.media_id]
                if item.has_audio:
                    r = QRectF(self.x_of(clip.start), y + 4, clip.length * self.ppf, AUDIO_H - 8)
                    if track.muted:  # faded: it is not heard
                        p.setOpacity(0.3)
                    p.setPen(theme.AUDIO_CLIP.darker(140))
                    p.setBrush(theme.AUDIO_CLIP)
                    p.drawRoundedRect(r, 2, 2)
                    paint_clip_waveform(p, r, item, clip, self)
                    p.setPen(theme.TEXT)
                    name = p.fontMetrics().elidedText(item.name, Qt.ElideRight, int(r.width()) - 6)
                    p.drawText(r.adjusted(4, 0, 0, 0), Qt.AlignVCenter, name)
                    p.setOpacity(1.0)

    def _paint_ghost(self, p: QPainter) -> None:
        d = self.drag
        if d is not None and d.mode in ("move", "left", "right"):
            track, clip = self.project.find_clip(d.clip_id)
            if d.mode == "move":
                ids = [t.id for t in self.project.tracks]
                shift, down = d.start - clip.start, ids.index(d.track_id) - ids.index(track.id)
                rects = []
                for clip_id in d.group or [clip.id]:  # the whole selection moves together
                    other_track, other = self.project.find_clip(clip_id)
                    row = ids.index(other_track.id) + down
                    if 0 <= row < len(ids):
                        rects.append(self.clip_rect(other, ids[row], other.start + shift))
            elif d.mode == "left":
                rects = [self.clip_rect(clip, d.track_id, d.edge, clip.end - d.edge)]
            else:
                rects = [self.clip_rect(clip, d.track_id, clip.start, d.edge - clip.start)]
            p.setPen(QPen(QColor(255, 255, 255), 2, Qt.DashLine))
            p.setBrush(QColor(255, 255, 255, 40))
            for rect in rects:
                p.drawRoundedRect(rect, 3, 3)
        if self.drop_hint is not None:
            track_id, frame = self.drop_hint
            x = int(self.x_of(frame))
            p.setPen(QPen(theme.ACCENT, 3))
            p.drawLine(x, self.track_y(track_id), x, self.track_y(track_id) + TRACK_H)

    def _paint_headers(self, p: QPainter) -> None:
        p.fillRect(QRect(0, 0, HEADER_W, self.height()), theme.PANEL)
        for track in self.project.tracks:
            top = self.track_y(track.id)
            r = QRect(0, top, HEADER_W - 1, TRACK_H - 1)
            p.fillRect(r, theme.ACCENT.darker(200) if track.id == self.current_track else theme.PANEL.lighter(110))
            p.setPen(theme.MUTED if track.hidden else theme.TEXT)
            p.drawText(r.adjusted(0, 4, 0, -24), Qt.AlignCenter, track.name)
            for k, (flag, (letter, *_)) in enumerate(FLAG_LABELS.items()):
                box, on = flag_rect(top, k), getattr(track, flag)
                p.setPen(FLAG_COLORS[flag] if on else theme.MUTED.darker(130))
                p.setBrush(FLAG_COLORS[flag] if on else theme.PANEL)
                p.drawRoundedRect(box, 3, 3)
                p.setPen(QColor(20, 20, 20) if on else theme.MUTED)
                p.drawText(box, Qt.AlignCenter, letter)
        if self.lane_clip() is not None:
            for lane in LANES:
                r = QRect(0, self.lane_y(lane), HEADER_W - 1, LANE_H - 1)
                p.fillRect(r, theme.PANEL.darker(110))
                p.setPen(theme.MUTED)
                p.drawText(r.adjusted(6, 0, 0, 0), Qt.AlignVCenter, lane)
        r = QRect(0, self.tracks_bottom(), HEADER_W - 1, AUDIO_H - 1)
        p.fillRect(r, theme.PANEL.lighter(105))
        p.setPen(theme.MUTED)
        p.drawText(r, Qt.AlignCenter, "Audio")
