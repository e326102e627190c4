"""In and Out points and the ranges an export can take: the stretch marked with I and O, and the
span of the selected clips. Plain Python (no Qt): the edits run inside `doc.edit`, so marking is
undoable and makes the project unsaved, and the file check runs once when a project is read.

Units: project frames. The In point is the first frame of the range and the Out point is one past
its last (both sit on the playhead line where I and O were pressed), so a range [in, out) holds
out - in frames. Either may be unset (None): the range then runs from frame 0, or to the
timeline's end.
"""

from __future__ import annotations

from collections.abc import Collection

from ..engine.request import FieldError, from_data
from .project import EditError, Project

Span = tuple[int, int]  # [first, last) in project frames
FILE_KEY = "in_out"  # the project file's optional top-level object: {"in": 15, "out": 45}


# -- edits (run them through doc.edit) ----------------------------------------------------------
def set_in(project: Project, frame: int) -> None:
    """Put the In point at `frame`. An Out point at or before it is cleared: the newer mark wins,
    as in Resolve, rather than an I that silently does nothing."""
    if frame < 0:
        raise EditError("the In point cannot be before the timeline's start")
    project.mark_in = frame
    if project.mark_out is not None and project.mark_out <= frame:
        project.mark_out = None


def set_out(project: Project, frame: int) -> None:
    """Put the Out point at `frame` (the range ends before the frame there). An In point at or
    after it is cleared."""
    if frame <= 0:
        raise EditError("an Out point at the timeline's start marks nothing: move the playhead past the first frame")
    project.mark_out = frame
    if project.mark_in is not None and project.mark_in >= frame:
        project.mark_in = None


def clear_marks(project: Project) -> None:
    project.mark_in = project.mark_out = None


def rescale_marks(project: Project, ratio: float) -> None:
    """Keep the marks at their times when the project's rate is multiplied by `ratio`
    (Project.set_format); rounding never leaves the Out point at or before the In point."""
    if project.mark_in is not None:
        project.mark_in = round(project.mark_in * ratio)
    if project.mark_out is not None:
        project.mark_out = max(round(project.mark_out * ratio), (project.mark_in or 0) + 1)


# -- ranges ---------------------------------------------------------------------------------------
def marked_span(project: Project) -> Span | None:
    """[first, last) from the In point (else frame 0) to the Out point (else the timeline's end);
    None when neither is set, or when nothing lies between them (an In point at or after the end
    with no Out point)."""
    if project.mark_in is None and project.mark_out is None:
        return None
    first = project.mark_in or 0
    last = project.mark_out if project.mark_out is not None else project.duration
    return (first, last) if last > first else None


def selection_span(project: Project, clip_ids: Collection[str]) -> Span | None:
    """From the earliest start to the latest end of the clips `clip_ids` (on any tracks; gaps
    between them included); None when none of them is on the timeline any more."""
    clips = [c for t in project.tracks for c in t.clips if c.id in clip_ids]
    if not clips:
        return None
    return min(c.start for c in clips), max(c.end for c in clips)


def describe(span: Span, fps: float) -> str:
    """'0.50 s to 1.50 s, 30 frames': how the export dialog names a range."""
    first, last = span
    return f"{first / fps:.2f} s to {last / fps:.2f} s, {last - first} frames"


# -- the project file (project_format.py calls these) -------------------------------------------
def marks_data(project: Project) -> dict | None:
    """The file's "in_out" object, None when no mark is set (the file is then written as before
    the marks existed, so older releases still open it)."""
    data = {k: v for k, v in (("in", project.mark_in), ("out", project.mark_out)) if v is not None}
    return data or None


def marks_from_data(value: object, max_frame: int) -> tuple[int | None, int | None]:
    """(In, Out) from a file's "in_out" object (None: the key was absent); FieldError naming the
    field for anything else than frames 0..max_frame with In before Out."""
    if value is None:
        return None, None
    if not isinstance(value, dict):
        raise FieldError(FILE_KEY, f"must be an object like {{\"in\": 15, \"out\": 45}} (got {type(value).__name__})")
    unknown = sorted(set(value) - {"in", "out"})
    if unknown:
        raise FieldError(f"{FILE_KEY}.{unknown[0]}", "is not a known field")
    marks = []
    for key in ("in", "out"):
        frame = value.get(key)
        if frame is not None:
            frame = from_data(int, frame, f"{FILE_KEY}.{key}")  # the kind check and message every field gets
            if not 0 <= frame <= max_frame:
                raise FieldError(f"{FILE_KEY}.{key}", f"must be from 0 to {max_frame} (got {frame})")
        marks.append(frame)
    first, last = marks
    if first is not None and last is not None and last <= first:
        raise FieldError(f"{FILE_KEY}.out", f"must be after {FILE_KEY}.in ({last} <= {first})")
    if last == 0:
        raise FieldError(f"{FILE_KEY}.out", "must be after frame 0 (an Out point at the start marks nothing)")
    return first, last
