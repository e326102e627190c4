"""Timeline editing habits, as a mixin of the plain Project (no Qt): ripple delete and close gap,
markers, moving and deleting several clips at once, copy and paste, and the tracks' mute, lock
and hide switches.

Units: every position is a timeline frame at the project's rate. Each method is one edit for
`ProjectDocument.edit`: it either finishes or raises EditError having changed nothing the
document does not restore.
"""

from __future__ import annotations

from dataclasses import dataclass

from .project_types import Clip, EditError, Marker, Track, new_id

TRACK_FLAGS = ("muted", "locked", "hidden")


@dataclass(frozen=True)
class CopiedClip:
    """A clip on the clipboard, placed relative to the copied group's first frame and top track."""

    media_id: str
    track_offset: int  # tracks below the group's top track
    offset: int  # frames after the group's first frame
    in_point: int
    out_point: int
    interpolate: bool = False


class TimelineEdits:
    """Project's multi-clip, ripple, marker and track-switch edits (mixed in; reads self.tracks,
    self.media, self.markers and the single-clip edits of Project)."""

    # -- ripple --------------------------------------------------------------------------------
    def ripple_delete(self, clip_ids: list[str]) -> None:
        """Delete clips and pull the later clips of each one's track left by its length, so no
        gap is left where it was; the other tracks stay as they are."""
        found = sorted((self.find_clip(i) for i in clip_ids), key=lambda tc: -tc[1].start)
        for track, clip in found:  # right to left: each pull leaves the earlier clips in place
            track.check_unlocked()
            track.clips.remove(clip)
            for later in track.clips:
                if later.start >= clip.end:
                    later.start -= clip.length

    def gap_at(self, track_id: str, frame: int) -> tuple[int, int] | None:
        """(first, end) frames of the empty stretch of a track around `frame`, None when a clip is
        there or nothing comes after it (the space after the last clip is no gap)."""
        track = self.track(track_id)
        if track.clip_at(frame) is not None:
            return None
        first = max((c.end for c in track.clips if c.end <= frame), default=0)
        end = min((c.start for c in track.clips if c.start > frame), default=None)
        return None if end is None else (first, end)

    def close_gap(self, track_id: str, frame: int) -> int:
        """Close the gap of a track around `frame`: the clips after it move left to meet the clip
        before it (or the timeline's start). Returns the frames closed."""
        gap = self.gap_at(track_id, frame)
        if gap is None:
            raise EditError("no gap there: place the playhead between two clips of the track")
        track = self.track(track_id)
        track.check_unlocked()
        first, end = gap
        for c in track.clips:
            if c.start >= end:
                c.start -= end - first
        return end - first

    # -- several clips -------------------------------------------------------------------------
    def move_clips(self, clip_ids: list[str], frames: int, tracks: int) -> None:
        """Move clips together, `frames` later and `tracks` tracks down (negative: earlier, up),
        keeping their places relative to each other."""
        found = [self.find_clip(i) for i in clip_ids]
        index = {t.id: k for k, t in enumerate(self.tracks)}
        if any(c.start + frames < 0 for _, c in found):
            raise EditError("the clips would start before the timeline")
        if any(not 0 <= index[t.id] + tracks < len(self.tracks) for t, _ in found):
            raise EditError("there are not enough tracks to move the clips there")
        for track, clip in found:
            track.check_unlocked()
            self.tracks[index[track.id] + tracks].check_unlocked()
            track.clips.remove(clip)
        for track, clip in found:
            target = self.tracks[index[track.id] + tracks]
            if not target.fits(clip.start + frames, clip.length):
                raise EditError("the clips would overlap other clips")
            clip.start += frames
            target.clips.append(clip)
            target.clips.sort(key=lambda c: c.start)

    def delete_clips(self, clip_ids: list[str]) -> None:
        for clip_id in clip_ids:
            self.delete_clip(clip_id)

    def copy_clips(self, clip_ids: list[str]) -> list[CopiedClip]:
        """The clips as clipboard data (nothing changes)."""
        found = [self.find_clip(i) for i in clip_ids]
        if not found:
            return []
        index = {t.id: k for k, t in enumerate(self.tracks)}
        top = min(index[t.id] for t, _ in found)
        first = min(c.start for _, c in found)
        return [CopiedClip(c.media_id, index[t.id] - top, c.start - first, c.in_point, c.out_point, c.interpolate)
                for t, c in found]

    def paste_clips(self, copied: list[CopiedClip], track_id: str, frame: int) -> list[Clip]:
        """Put copies of clipboard clips on the timeline, the group's top track on `track_id`,
        at `frame` or, where clips are in the way, at the first frame after it where the whole
        group fits (as dropping one clip does). Returns the new clips."""
        if not copied:
            raise EditError("nothing to paste: copy or cut clips first")
        missing = [c.media_id for c in copied if c.media_id not in self.media]
        if missing:
            raise EditError("the copied clips' media was removed from the project")
        top = self.tracks.index(self.track(track_id))
        if top + max(c.track_offset for c in copied) >= len(self.tracks):
            raise EditError("there are not enough tracks below the selected track to paste these clips")
        targets = [self.tracks[top + c.track_offset] for c in copied]
        for target in targets:
            target.check_unlocked()
        at = max(0, frame)
        while True:  # each pass moves past the clip in the way, so this ends after the last clip
            blocked = [self._blocker(t, at + c.offset, c.out_point - c.in_point) for t, c in zip(targets, copied)]
            ends = [b.end - c.offset for b, c in zip(blocked, copied) if b is not None]
            if not ends:
                break
            at = max(ends)
        pasted = []
        for target, c in zip(targets, copied):
            clip = Clip(new_id(), c.media_id, at + c.offset, c.in_point, c.out_point, c.interpolate)
            target.clips.append(clip)
            target.clips.sort(key=lambda k: k.start)
            pasted.append(clip)
        return pasted

    @staticmethod
    def _blocker(track: Track, start: int, length: int) -> Clip | None:
        return next((c for c in track.clips if c.start < start + length and start < c.end), None)

    # -- markers -------------------------------------------------------------------------------
    def add_marker(self, frame: int, name: str = "") -> Marker:
        if frame < 0:
            raise EditError("a marker needs a frame at or after the timeline's start")
        if any(m.frame == frame for m in self.markers):
            raise EditError(f"there is already a marker at frame {frame}")
        marker = Marker(frame, name or f"Marker {len(self.markers) + 1}")
        self.markers.append(marker)
        self.markers.sort(key=lambda m: m.frame)
        return marker

    def marker_at(self, frame: int) -> Marker | None:
        return next((m for m in self.markers if m.frame == frame), None)

    def rename_marker(self, frame: int, name: str) -> None:
        marker = self.marker_at(frame)
        if marker is None:
            raise EditError(f"no marker at frame {frame}")
        marker.name = name.strip()

    def remove_marker(self, frame: int) -> None:
        marker = self.marker_at(frame)
        if marker is None:
            raise EditError(f"no marker at frame {frame}")
        self.markers.remove(marker)

    def next_marker(self, frame: int) -> Marker | None:
        return next((m for m in self.markers if m.frame > frame), None)

    def previous_marker(self, frame: int) -> Marker | None:
        return next((m for m in reversed(self.markers) if m.frame < frame), None)

    # -- track switches ------------------------------------------------------------------------
    def set_track_flag(self, track_id: str, flag: str, on: bool) -> None:
        """Mute, lock or hide a track (`flag`: "muted", "locked" or "hidden")."""
        if flag not in TRACK_FLAGS:
            raise ValueError(f"flag must be one of {TRACK_FLAGS}, not {flag!r}")
        setattr(self.track(track_id), flag, on)
