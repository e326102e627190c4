"""The timeline's data as plain Python (no Qt): media items, clips, tracks with their mute, lock
and hide switches, markers, and the errors an edit or a file gives.

Units: every position, in point and out point is a frame number at the project's frame rate.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field


class EditError(ValueError):
    """An edit that would break the timeline (overlap, empty clip); the message is for the user."""


class ProjectFileError(ValueError):
    """A project file that cannot be read; the message names the file."""


def new_id() -> str:
    return uuid.uuid4().hex[:10]


@dataclass
class MediaItem:
    id: str
    path: str  # absolute while the project is open; relative to the project file when saved
    name: str
    width: int
    height: int
    fps: float
    frames: int  # source frames
    has_audio: bool = False
    recipe: str | None = None  # the generation recipe (JSON text) of a generated item
    generated: bool = False
    offline: bool = False  # the file was missing when the project was opened
    edited_recipe: str | None = None  # the recipe with keyframes edited on the timeline, for "Re-generate"

    def length_at(self, fps: float) -> int:
        """How many project frames the whole source lasts once resampled to `fps`."""
        if not self.fps or abs(self.fps - fps) < 1e-6:
            return self.frames
        return max(1, round(self.frames * fps / self.fps))

    def to_project(self, source_frame: float, fps: float) -> float:
        """Project frames from the source's start to source frame `source_frame`."""
        return source_frame if not self.fps or abs(self.fps - fps) < 1e-6 else source_frame * fps / self.fps

    def source_position(self, project_frame: int, fps: float) -> float:
        """Like :meth:`source_frame`, with the fraction of the way to the next source frame."""
        if not self.fps or abs(self.fps - fps) < 1e-6:
            return float(min(max(project_frame, 0), self.frames - 1))
        return min(max(project_frame * self.fps / fps, 0.0), float(self.frames - 1))

    def source_frame(self, project_frame: int, fps: float) -> int:
        """The source frame shown at project frame `project_frame` (counted from the source's start)."""
        if not self.fps or abs(self.fps - fps) < 1e-6:
            index = project_frame
        else:
            index = int(project_frame * self.fps / fps + 1e-9)
        return min(max(index, 0), self.frames - 1)


@dataclass
class Clip:
    id: str
    media_id: str
    start: int  # first timeline frame
    in_point: int  # first frame of the (resampled) source that is used
    out_point: int  # one past the last used frame
    # Smooth motion: where the project's rate is above the source's, the timeline frames between
    # two source frames are made by optical flow (engine/interpolate.py) instead of repeating the
    # earlier one. Off in projects from before the property.
    interpolate: bool = False

    @property
    def length(self) -> int:
        return self.out_point - self.in_point

    @property
    def end(self) -> int:
        return self.start + self.length


@dataclass
class Track:
    id: str
    name: str
    clips: list[Clip] = field(default_factory=list)  # kept sorted by start, never overlapping
    muted: bool = False  # its sound is left out of playback and export
    locked: bool = False  # its clips refuse every edit
    hidden: bool = False  # its pictures are left out of the monitor and export

    def check_unlocked(self) -> None:
        if self.locked:
            raise EditError(f"track {self.name} is locked: unlock it to edit its clips")

    def clip_at(self, frame: int) -> Clip | None:
        return next((c for c in self.clips if c.start <= frame < c.end), None)

    def fits(self, start: int, length: int, ignore: str | None = None) -> bool:
        return start >= 0 and all(c.end <= start or c.start >= start + length for c in self.clips if c.id != ignore)

    def free_start(self, start: int, length: int) -> int:
        """The first position at or after `start` where `length` frames fit."""
        start = max(0, start)
        for c in sorted(self.clips, key=lambda c: c.start):
            if c.end <= start or c.start >= start + length:
                continue
            start = c.end
        return start


@dataclass
class Marker:
    frame: int  # timeline frame; one marker per frame
    name: str = ""


@dataclass
class Take:
    """One generated video in the History panel, on the timeline or not: its file as a media item
    (whose recipe re-makes it alone and names its seed) and how it was made. Its id is the item's."""

    item: MediaItem
    seconds: float = 0.0  # wall-clock seconds of the job that made it (with its batch); 0: not known
    batch: int = 1  # takes that job made together
    created: str = ""  # local date and time it was made, ISO 8601 ("2025-06-01T14:30:05"); "": not known
