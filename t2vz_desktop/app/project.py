"""The timeline and media bin as plain Python: no Qt here, so every edit is unit-testable.

Units: every position, in point and out point is a frame number at the project's frame rate.
A source of another rate is resampled (its frame for project frame k is floor(k * src / project)),
and a source of another size is scaled to fit the project's frame when shown or rendered.
Tracks are kept top first: where clips overlap in time, the one on the higher track wins.
"""

from __future__ import annotations

import copy
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from ..media.reader import VIDEO_SUFFIXES  # noqa: F401 - a project's media path to anything else is not opened
from .project_edits import TimelineEdits
from .project_keys import KeyframeEdits
from .project_types import Clip, EditError, Marker, MediaItem, ProjectFileError, Track, new_id  # noqa: F401 - the model's names, one import
from .project_types import Take

FORMAT_VERSION = 1
PROJECT_SUFFIX = ".t2vz"


@dataclass
class Project(TimelineEdits, KeyframeEdits):
    width: int = 512
    height: int = 512
    fps: float = 8.0
    tracks: list[Track] = field(default_factory=list)
    media: dict[str, MediaItem] = field(default_factory=dict)
    markers: list[Marker] = field(default_factory=list)  # kept sorted by frame
    mark_in: int | None = None  # In point: first frame of the marked range (ranges.py); None: unset
    mark_out: int | None = None  # Out point: one past the range's last frame; None: unset
    # Every generated take, oldest first (takes.py, history.py); not part of undo: a take stays made.
    # None: the file had no history (or a damaged one, said in history_note): the window rebuilds it
    # from the recipes in the project's media folder (takes_data.rebuild_history).
    history: list[Take] | None = None
    history_note: str = ""

    @classmethod
    def new(cls, width: int = 512, height: int = 512, fps: float = 8.0) -> "Project":
        return cls(width, height, fps, [Track(new_id(), "V2"), Track(new_id(), "V1")])

    # -- queries -----------------------------------------------------------------------------
    @property
    def duration(self) -> int:
        return max((c.end for t in self.tracks for c in t.clips), default=0)

    def track(self, track_id: str) -> Track:
        for t in self.tracks:
            if t.id == track_id:
                return t
        raise EditError(f"no track {track_id}")

    def find_clip(self, clip_id: str) -> tuple[Track, Clip]:
        for t in self.tracks:
            for c in t.clips:
                if c.id == clip_id:
                    return t, c
        raise EditError(f"no clip {clip_id}")

    def visible_clip(self, frame: int) -> Clip | None:
        """The clip shown at `frame`: the one on the highest track that is not hidden."""
        for t in self.tracks:
            c = None if t.hidden else t.clip_at(frame)
            if c is not None:
                return c
        return None

    def edges(self, ignore: Collection[str] = ()) -> list[int]:
        """Clip starts and ends, the positions that moves and trims snap to, but those of the
        clips in `ignore` (the ones being moved)."""
        return sorted({e for t in self.tracks for c in t.clips if c.id not in ignore for e in (c.start, c.end)})

    def snapshot(self) -> dict:
        return copy.deepcopy({"width": self.width, "height": self.height, "fps": self.fps,
                              "tracks": self.tracks, "media": self.media, "markers": self.markers,
                              "marks": (self.mark_in, self.mark_out)})

    def restore(self, state: dict) -> None:
        state = copy.deepcopy(state)
        self.width, self.height, self.fps = state["width"], state["height"], state["fps"]
        self.tracks, self.media, self.markers = state["tracks"], state["media"], state["markers"]
        self.mark_in, self.mark_out = state["marks"]

    # -- tracks ------------------------------------------------------------------------------
    def add_track(self, index: int = 0) -> Track:
        """A new empty track, on top or at `index` (named after the highest V number so far)."""
        numbers = [int(t.name[1:]) for t in self.tracks if t.name[1:].isdigit()]
        track = Track(new_id(), f"V{max(numbers, default=0) + 1}")
        self.tracks.insert(index, track)
        return track

    def add_clip_above(self, clip_id: str, media_id: str) -> Clip:
        """Put a media item on the track above `clip_id`, starting at the same timeline frame, so
        an edit of a clip plays in place of it; a new track is made when the one above is busy."""
        track, below = self.find_clip(clip_id)
        index = self.tracks.index(track)
        length = self.media[media_id].length_at(self.fps)
        if index == 0 or self.tracks[index - 1].locked or not self.tracks[index - 1].fits(below.start, length):
            above = self.add_track(index)
        else:
            above = self.tracks[index - 1]
        clip = Clip(new_id(), media_id, below.start, 0, length)
        above.clips.append(clip)
        self._sort(above)
        return clip

    def remove_track(self, track_id: str) -> None:
        if len(self.tracks) <= 1:
            raise EditError("the timeline needs at least one track")
        self.tracks.remove(self.track(track_id))

    def move_track(self, track_id: str, offset: int) -> None:
        """Move a track `offset` places down (positive) or up (negative) in the stack."""
        track = self.track(track_id)
        index = self.tracks.index(track)
        new = min(max(index + offset, 0), len(self.tracks) - 1)
        self.tracks.insert(new, self.tracks.pop(index))

    # -- media -------------------------------------------------------------------------------
    def add_media(self, item: MediaItem) -> MediaItem:
        self.media[item.id] = item
        return item

    def remove_media(self, media_id: str) -> None:
        """Remove a bin item and every clip made from it."""
        self.media.pop(media_id)
        for t in self.tracks:
            t.clips = [c for c in t.clips if c.media_id != media_id]

    # -- clips -------------------------------------------------------------------------------
    def add_clip(self, track_id: str, media_id: str, start: int | None = None) -> Clip:
        """Put the whole of a media item on a track: at `start` or the first free place after it,
        or after the track's last clip when `start` is None."""
        track, item = self.track(track_id), self.media[media_id]
        track.check_unlocked()
        length = item.length_at(self.fps)
        at = track.free_start(max((c.end for c in track.clips), default=0) if start is None else start, length)
        clip = Clip(new_id(), media_id, at, 0, length)
        track.clips.append(clip)
        self._sort(track)
        return clip

    def move_clip(self, clip_id: str, track_id: str, start: int) -> None:
        old_track, clip = self.find_clip(clip_id)
        new_track = self.track(track_id)
        old_track.check_unlocked()
        new_track.check_unlocked()
        if not new_track.fits(start, clip.length, ignore=clip.id):
            raise EditError("the clip would overlap another clip")
        old_track.clips.remove(clip)
        clip.start = start
        new_track.clips.append(clip)
        self._sort(new_track)

    def trim_clip(self, clip_id: str, side: str, frame: int) -> None:
        """Move the clip's left or right edge to timeline frame `frame`; the content stays put."""
        track, clip = self.find_clip(clip_id)
        track.check_unlocked()
        item = self.media[clip.media_id]
        if side == "left":
            delta = frame - clip.start
            new_in = clip.in_point + delta
            if new_in < 0 or new_in >= clip.out_point:
                raise EditError("cannot trim past the clip's source")
            if not track.fits(frame, clip.out_point - new_in, ignore=clip.id):
                raise EditError("the clip would overlap another clip")
            clip.start, clip.in_point = frame, new_in
        elif side == "right":
            new_out = clip.in_point + frame - clip.start
            if new_out <= clip.in_point or new_out > item.length_at(self.fps):
                raise EditError("cannot trim past the clip's source")
            if not track.fits(clip.start, new_out - clip.in_point, ignore=clip.id):
                raise EditError("the clip would overlap another clip")
            clip.out_point = new_out
        else:
            raise ValueError(f"side must be 'left' or 'right', not {side!r}")

    def split_clip(self, clip_id: str, frame: int) -> Clip:
        """Cut a clip in two at timeline frame `frame`; returns the right half."""
        track, clip = self.find_clip(clip_id)
        track.check_unlocked()
        if not clip.start < frame < clip.end:
            raise EditError("the playhead is not inside the clip")
        cut = clip.in_point + frame - clip.start
        right = Clip(new_id(), clip.media_id, frame, cut, clip.out_point, clip.interpolate)
        clip.out_point = cut
        track.clips.append(right)
        self._sort(track)
        return right

    def set_interpolate(self, clip_ids: list[str], on: bool) -> None:
        """Turn smooth motion (frame interpolation) on or off for these clips."""
        found = [self.find_clip(i) for i in clip_ids]
        for track, _ in found:
            track.check_unlocked()
        for _, clip in found:
            clip.interpolate = on

    def delete_clip(self, clip_id: str) -> None:
        track, clip = self.find_clip(clip_id)
        track.check_unlocked()
        track.clips.remove(clip)

    def set_format(self, width: int, height: int, fps: float) -> None:
        """Change the project's size and rate; positions are rescaled so clips keep their time."""
        if width < 16 or height < 16 or not 0 < fps <= 240:
            raise EditError(f"unsupported project format {width}x{height} at {fps} fps")
        ratio = fps / self.fps
        for t in self.tracks:
            for c in t.clips:
                length = self.media[c.media_id].length_at(fps)
                c.start = round(c.start * ratio)
                c.in_point = min(round(c.in_point * ratio), length - 1)
                c.out_point = min(max(round(c.out_point * ratio), c.in_point + 1), length)
            for a, b in zip(t.clips, t.clips[1:]):  # rounding must not make neighbours overlap
                if b.start < a.end:
                    b.start = a.end
        from .ranges import rescale_marks

        rescale_marks(self, ratio)
        self.width, self.height, self.fps = width, height, fps

    @staticmethod
    def _sort(track: Track) -> None:
        track.clips.sort(key=lambda c: c.start)

    # -- files (project_format.py reads and writes them) -------------------------------------
    def to_dict(self, base: Path | None = None) -> dict:
        """JSON-ready data; media paths relative to `base` (the project file's folder) if given."""
        from .project_format import project_data

        return project_data(self, base)

    @classmethod
    def from_dict(cls, data: dict, base: Path | None = None) -> "Project":
        """A project from JSON data written by anyone, after every check (ProjectFileError)."""
        from .project_format import project_from_data

        return project_from_data(data, base)

    def save(self, path: str | Path, own_media: tuple[Path, ...] = ()) -> None:
        """Write the project atomically; generated clips inside `own_media` (the app's own
        generated-media folders) are copied beside it first (project_format.write_project)."""
        from .project_format import write_project

        write_project(self, Path(path), own_media)

    @classmethod
    def load(cls, path: str | Path) -> "Project":
        """The project in a file; ProjectFileError naming the file and the field if it fails."""
        from .project_format import read_project

        return read_project(Path(path))

    def offline_media(self) -> list[MediaItem]:
        return [m for m in self.media.values() if m.offline]



def media_folder(project_file: Path) -> Path:
    """Where generated media of a saved project live: beside the project file."""
    return project_file.with_name(project_file.stem + "_media")
