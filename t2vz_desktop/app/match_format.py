"""Project settings that follow the footage: the size and rate a first import into an empty
project offers it, as Premiere and Resolve do when a sequence or timeline starts from a clip.
Plain Python (no Qt); the window asks the question and applies the answer with the import.

The offer is the clip's displayed size and its rate, made fit for a project: odd sides rounded up
to even (the export's rule, render.stored_size: MP4 and WebM store even sides only), a side over
the project's limit scaled down with the aspect kept, a rate over the project's maximum clamped
to it, and a still's rate (under MIN_FPS, e.g. one frame shown for 10 s) not offered at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from .project import MediaItem, Project
from .project_format import MAX_FPS, MAX_SIDE, MIN_SIDE
from .render import stored_size

# Rates below this are a still's or a time-lapse's, not a rate to edit at: the project settings
# dialog's lowest rate too (dialogs.py), so the user could not have picked it there.
MIN_FPS = 1.0


@dataclass(frozen=True)
class FormatOffer:
    """What the project would become to match clip `name`: width x height pixels at fps frames
    per second, and `notes`, one sentence for each way it differs from the clip's own format."""

    name: str
    width: int
    height: int
    fps: float
    notes: tuple[str, ...] = ()

    def question(self) -> str:
        text = f"Set the project to {self.width}x{self.height} at {fps_text(self.fps)} fps to match {self.name}?"
        return "\n".join((text, *self.notes))

    def done(self) -> str:
        """What the status bar says once the project took the offer."""
        done = f"The project is now {self.width}x{self.height} at {fps_text(self.fps)} fps, to match {self.name}."
        return " ".join((done, *self.notes))


def fps_text(fps: float) -> str:
    """A rate as an editor shows it: 30, 29.97, 23.976."""
    return f"{fps:.3f}".rstrip("0").rstrip(".")


def is_empty(project: Project) -> bool:
    """No media in the bin and no clip on the timeline: the project's format is still a default
    nothing depends on, so the first footage may set it."""
    return not project.media and not any(t.clips for t in project.tracks)


def offer_for(project: Project, item: MediaItem) -> FormatOffer | None:
    """The format `item` offers an empty `project`; None when the project is not empty, or when
    it already has that format (nothing to ask)."""
    if not is_empty(project):
        return None
    notes: list[str] = []
    width, height = item.width, item.height
    if max(width, height) > MAX_SIDE:
        scale = MAX_SIDE / max(width, height)
        width, height = max(MIN_SIDE, int(width * scale)), max(MIN_SIDE, int(height * scale))
        notes.append(f"Its {item.width}x{item.height} is over the project's limit of {MAX_SIDE} pixels a side.")
    elif min(width, height) < MIN_SIDE:
        width, height = max(width, MIN_SIDE), max(height, MIN_SIDE)
        notes.append(f"Its {item.width}x{item.height} is under the project's minimum of {MIN_SIDE} pixels a side.")
    even = stored_size(width, height, "mp4")
    if even != (width, height) and not notes:
        notes.append(f"Its {item.width}x{item.height} is rounded up to even sides, which MP4 and WebM need.")
    width, height = even
    fps = item.fps
    if fps > MAX_FPS:
        notes.append(f"Its {fps_text(fps)} fps is over the project's maximum: the project gets {fps_text(MAX_FPS)} fps.")
        fps = MAX_FPS
    elif fps < MIN_FPS:
        notes.append(f"Its {fps_text(fps)} fps is a still's rate: the project keeps {fps_text(project.fps)} fps.")
        fps = project.fps
    if (width, height) == (project.width, project.height) and abs(fps - project.fps) < 1e-3:
        return None
    return FormatOffer(item.name, width, height, fps, tuple(notes))
