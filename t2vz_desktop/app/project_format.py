"""The .t2vz file on disk: reading one that anyone may have written, checked once at the border,
and writing one quickly enough for big projects.

A file is read whole, checked whole, and only then turned into a Project, so a file that fails
gives one ProjectFileError (the file's name, then the field: ``film.t2vz:
tracks[0].clips[2].out_point must be greater than in_point (4)``) and the open project is not
touched. What passes satisfies every rule the edit API keeps (positive sizes and rates, clips
inside their source, no overlaps, ids unique and known), so the timeline, the renderer and the
export never meet a KeyError or a division by zero on data from a file. Plain Python, no Qt.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import fields
from datetime import datetime
from pathlib import Path

from ..engine.jsonfile import JsonFileError, read_json
from ..engine.request import FieldError, GenerationRequest, RequestError, from_data
from ..media.atomic import AtomicGroup, atomic_write_text, clean_folder, settle
from .project import FORMAT_VERSION, VIDEO_SUFFIXES, Marker, MediaItem, Project, ProjectFileError, Track, media_folder
from .project_types import Take
from .project_edits import TRACK_FLAGS
from .ranges import FILE_KEY as IN_OUT_KEY, marks_data, marks_from_data

MAX_FRAME = 10**7  # about 11.5 days at 10 fps: anything later is a damaged or hostile file
MAX_SOURCE_SIDE = 65536  # pixels: larger than any codec writes
# The project's own format follows the rules of Project.set_format and the settings dialog.
MIN_SIDE, MAX_SIDE, MAX_FPS = 16, 8192, 240.0
SOURCE_FPS = (0.01, 1000.0)  # time-lapse to high-speed footage

# "markers", "in_out" and the tracks' switches came later without a new version: they are optional,
# and a file that uses none of them is written exactly as before, so older releases still open it.
_TOP_KEYS = {"t2vz_project", "settings", "media", "tracks", "markers", IN_OUT_KEY, "history"}
_SETTINGS_KEYS = {"width", "height", "fps"}
_MEDIA_FIELDS = tuple(f.name for f in fields(MediaItem) if f.name != "offline")  # offline is found, not stored


# -- reading ------------------------------------------------------------------------------------
def read_project(path: Path) -> Project:
    """The project in file `path`; ProjectFileError (naming the file and the field) for anything
    unreadable, malformed or inconsistent. Unknown keys are refused, not ignored: the format
    version says what a file may hold, so an unknown key means another tool or a newer release
    wrote it, and saving it back would silently drop what it meant."""
    try:
        data = read_json(path, path.name)
    except JsonFileError as e:
        raise ProjectFileError(str(e)) from None
    try:
        return project_from_data(data, path.parent.resolve())
    except ProjectFileError as e:
        raise ProjectFileError(f"{path.name}: {e}") from e


def project_from_data(data: object, base: Path | None = None) -> Project:
    """A Project from JSON data, after every check; relative media paths are taken from `base`."""
    if not isinstance(data, dict) or "t2vz_project" not in data:
        raise ProjectFileError("not a t2vz project (no 't2vz_project' version)")
    version = data["t2vz_project"]
    if type(version) is not int or version < 1:
        raise ProjectFileError(f"t2vz_project must be a format version number (got {_shown(version)})")
    if version > FORMAT_VERSION:
        raise ProjectFileError(f"the project was saved by a newer t2vz-desktop (format {version}; "
                               f"this one reads up to {FORMAT_VERSION})")
    _no_unknown(data, _TOP_KEYS, "")
    for key in ("settings", "media", "tracks"):
        if key not in data:
            raise ProjectFileError(f"{key} is missing")
    try:
        project = _settings(data["settings"])
        project.media = _media(data["media"], base)
        project.tracks = _tracks(data["tracks"], project)
        project.markers = _markers(data.get("markers", []))
        project.mark_in, project.mark_out = marks_from_data(data.get(IN_OUT_KEY), MAX_FRAME)
    except FieldError as e:
        raise ProjectFileError(str(e)) from e
    project.history, project.history_note = _history(data.get("history"), base)
    return project


def _history(takes: object, base: Path | None) -> tuple[list[Take] | None, str]:
    """The generated takes (History), checked as media items are, and why they were refused.
    A damaged history is not worth refusing the project for: it is left out, with the first
    problem in one line, and the window rebuilds it from the recipes in the media folder."""
    if takes is None:
        return None, ""
    try:
        if not isinstance(takes, list):
            raise FieldError("history", f"must be a list (got {_shown(takes)})")
        result = [from_data(Take, t, f"history[{i}]") for i, t in enumerate(takes)]
        items = _media([asdict_item(t.item) for t in result], base)  # the media checks, paths made absolute
        for i, (take, item) in enumerate(zip(result, items.values())):
            _need(item.recipe is not None, f"history[{i}].item.recipe", "is missing: a take is a generated video")
            _need(take.seconds >= 0 and take.batch >= 1, f"history[{i}]", "needs seconds >= 0 and batch >= 1")
            _need(not take.created or _is_date(take.created), f"history[{i}].created",
                  f"must be a date and time like 2025-06-01T14:30:05 (got {_shown(take.created)})")
            take.item = item
    except (FieldError, ProjectFileError) as e:
        where = re.sub(r"^media\[(\d+)\]", r"history[\1].item", str(e))  # _media names its own list
        return None, f"history left out ({where}); rebuilt from the media folder"
    return result, ""


def _is_date(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def asdict_item(item: MediaItem) -> dict:
    """A media item's stored fields, as the file holds them."""
    return {k: getattr(item, k) for k in _MEDIA_FIELDS}


def _settings(s: object) -> Project:
    if not isinstance(s, dict):
        raise FieldError("settings", f"must be an object (got {_shown(s)})")
    _no_unknown(s, _SETTINGS_KEYS, "settings.")
    width, height = (_number(s, k, "settings.", int, MIN_SIDE, MAX_SIDE) for k in ("width", "height"))
    fps = _number(s, "fps", "settings.", float, 0.0, MAX_FPS, low_open=True)
    return Project(width, height, fps)


def _media(items: object, base: Path | None) -> dict[str, MediaItem]:
    if not isinstance(items, list):
        raise FieldError("media", f"must be a list (got {_shown(items)})")
    media: dict[str, MediaItem] = {}
    for i, d in enumerate(items):
        where = f"media[{i}]"
        item: MediaItem = from_data(MediaItem, d, where)
        _need(bool(item.id), f"{where}.id", "must not be empty")
        _need(item.id not in media, f"{where}.id", f"repeats the id {item.id!r} of another media item")
        _need(bool(item.path) and "\0" not in item.path, f"{where}.path", "must be a file path")
        for side in ("width", "height"):
            value = getattr(item, side)
            _need(1 <= value <= MAX_SOURCE_SIDE, f"{where}.{side}", f"must be from 1 to {MAX_SOURCE_SIDE} (got {value})")
        lo, hi = SOURCE_FPS
        _need(lo <= item.fps <= hi, f"{where}.fps", f"must be from {lo:g} to {hi:g} (got {item.fps:g})")
        _need(1 <= item.frames <= MAX_FRAME, f"{where}.frames", f"must be from 1 to {MAX_FRAME} (got {item.frames})")
        for name in ("recipe", "edited_recipe"):  # used by Re-generate, Re-use settings, keyframe lanes
            text = getattr(item, name)
            if text is not None:
                try:
                    GenerationRequest.from_json(text, f"{where}.{name}")
                except RequestError as e:  # its message starts with the field's path
                    raise ProjectFileError(str(e)) from e
        path = Path(item.path)
        if base is not None and not path.is_absolute():
            path = base / path
        item.path = os.path.normpath(path)
        # A path a file brought in may name anything (../../../etc/passwd): only a video file is
        # opened as media; anything else is kept as an offline clip and named when the project opens.
        item.offline = not (Path(item.path).is_file() and Path(item.path).suffix.lower() in VIDEO_SUFFIXES)
        media[item.id] = item
    return media


def _tracks(tracks: object, project: Project) -> list[Track]:
    if not isinstance(tracks, list):
        raise FieldError("tracks", f"must be a list (got {_shown(tracks)})")
    _need(len(tracks) > 0, "tracks", "is empty: a timeline needs at least one track")
    result: list[Track] = []
    track_ids: set[str] = set()
    clip_ids: set[str] = set()
    for i, t in enumerate(tracks):
        where = f"tracks[{i}]"
        track: Track = from_data(Track, t, where)
        _need(track.id not in track_ids, f"{where}.id", f"repeats the id {track.id!r} of another track")
        track_ids.add(track.id)
        places = {id(c): k for k, c in enumerate(track.clips)}  # positions in the file, for messages
        for k, c in enumerate(track.clips):
            at = f"{where}.clips[{k}]"
            _need(c.id not in clip_ids, f"{at}.id", f"repeats the id {c.id!r} of another clip")
            clip_ids.add(c.id)
            item = project.media.get(c.media_id)
            _need(item is not None, f"{at}.media_id", f"names no media item ({c.media_id!r})")
            _need(0 <= c.start <= MAX_FRAME, f"{at}.start", f"must be from 0 to {MAX_FRAME} (got {c.start})")
            _need(c.in_point >= 0, f"{at}.in_point", f"must be 0 or more (got {c.in_point})")
            _need(c.out_point > c.in_point, f"{at}.out_point",
                  f"must be greater than in_point ({c.out_point} <= {c.in_point})")
            length = item.length_at(project.fps)
            _need(c.out_point <= length, f"{at}.out_point",
                  f"is past the end of its media ({c.out_point} > {length} frames at the project's rate)")
        track.clips.sort(key=lambda c: c.start)
        for a, b in zip(track.clips, track.clips[1:]):
            _need(b.start >= a.end, f"{where}.clips[{places[id(b)]}].start",
                  f"overlaps {where}.clips[{places[id(a)]}] (frames {a.start}-{a.end - 1})")
        result.append(track)
    return result


def _markers(markers: object) -> list[Marker]:
    if not isinstance(markers, list):
        raise FieldError("markers", f"must be a list (got {_shown(markers)})")
    result: list[Marker] = []
    for i, m in enumerate(markers):
        where = f"markers[{i}]"
        marker: Marker = from_data(Marker, m, where)
        _need(0 <= marker.frame <= MAX_FRAME, f"{where}.frame", f"must be from 0 to {MAX_FRAME} (got {marker.frame})")
        _need(all(o.frame != marker.frame for o in result), f"{where}.frame",
              f"repeats frame {marker.frame} of another marker")
        result.append(marker)
    return sorted(result, key=lambda m: m.frame)


def _number(d: dict, key: str, prefix: str, kind: type, lo: float, hi: float, low_open: bool = False):
    if key not in d:
        raise FieldError(prefix + key, "is missing")
    value = from_data(kind, d[key], prefix + key)
    ok = (lo < value if low_open else lo <= value) and value <= hi
    _need(ok, prefix + key, f"must be {'above' if low_open else 'from'} {lo:g} {'and at most' if low_open else 'to'} "
          f"{hi:g} (got {value:g})")
    return value


def _no_unknown(d: dict, known: set[str], prefix: str) -> None:
    unknown = sorted(set(d) - known)
    if unknown:
        raise ProjectFileError(f"{prefix}{unknown[0]} is not a known field")


def _need(ok: bool, where: str, problem: str) -> None:
    if not ok:
        raise FieldError(where, problem)


def _shown(value: object) -> str:
    text = json.dumps(value) if isinstance(value, str | bool | int | float) or value is None else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def usable_recipe(text: str | None) -> str | None:
    """`text` if it is a recipe this release can re-make (Re-generate, Re-use settings), else None:
    a video made by another tool, or by anyone, may carry any text in its recipe tag."""
    if not text:
        return None
    try:
        GenerationRequest.from_json(text)
    except RequestError:
        return None
    return text


# -- writing ------------------------------------------------------------------------------------
def project_data(project: Project, base: Path | None = None) -> dict:
    """JSON-ready data; media paths relative to `base` (the project file's folder) if given.
    Built from the objects' own dicts, not dataclasses.asdict, which deep-copies every value and
    took 1.9 s of a 3,000-media, 30,000-clip save (benchmarks/save_stall.py)."""
    relative = _Relative(base) if base is not None else None
    media = []
    for item in project.media.values():
        d = {k: getattr(item, k) for k in _MEDIA_FIELDS}
        if relative is not None:
            d["path"] = relative(item.path)
        media.append(d)
    data = {
        "t2vz_project": FORMAT_VERSION,
        "settings": {"width": project.width, "height": project.height, "fps": project.fps},
        "media": media,
        "tracks": [{"id": t.id, "name": t.name, **{f: True for f in TRACK_FLAGS if getattr(t, f)},
                    "clips": [dict(c.__dict__) for c in t.clips]} for t in project.tracks],
    }
    if project.markers:
        data["markers"] = [{"frame": m.frame, "name": m.name} for m in project.markers]
    if (marks := marks_data(project)) is not None:
        data[IN_OUT_KEY] = marks
    if project.history:  # optional, like markers: a project without takes is written as before
        data["history"] = [{"item": {**asdict_item(t.item), **({"path": relative(t.item.path)} if relative else {})},
                            "seconds": t.seconds, "batch": t.batch, "created": t.created} for t in project.history]
    return data


def project_text(data: dict) -> str:
    """The file's text: one media item or clip per line, so that the file stays readable and
    diffs well, at the speed of compact JSON (indent=2 took 5x as long on big projects)."""
    dumps = json.dumps
    media = ",\n".join("    " + dumps(m) for m in data["media"])
    tracks = ",\n".join(
        '    {"id": %s, "name": %s, %s"clips": [%s]}' % (
            dumps(t["id"]), dumps(t["name"]), "".join(f'"{f}": true, ' for f in TRACK_FLAGS if t.get(f)),
            "\n" + ",\n".join("      " + dumps(c) for c in t["clips"]) + "\n    " if t["clips"] else "")
        for t in data["tracks"])
    markers = ",\n".join("    " + dumps(m) for m in data.get("markers", []))
    history = ",\n".join("    " + dumps(t) for t in data.get("history", []))
    return (f'{{\n  "t2vz_project": {dumps(data["t2vz_project"])},\n  "settings": {dumps(data["settings"])},\n'
            f'  "media": [{_block(media)}],\n  "tracks": [{_block(tracks)}]'
            + (f',\n  "markers": [{_block(markers)}]' if markers else "")
            + (f',\n  "{IN_OUT_KEY}": {dumps(data[IN_OUT_KEY])}' if IN_OUT_KEY in data else "")
            + (f',\n  "history": [{_block(history)}]' if history else "") + "\n}\n")


def _block(lines: str) -> str:
    return f"\n{lines}\n  " if lines else ""


class _Relative:
    """Paths relative to a folder, working out each source folder once (3,000 clips of one folder
    cost 3,000 realpath and relpath calls before: a third of a big save)."""

    def __init__(self, base: Path):
        self.base = str(base)
        self.folders: dict[str, str | None] = {}

    def __call__(self, path: str) -> str:
        folder, name = os.path.split(path)
        if folder not in self.folders:
            try:
                self.folders[folder] = os.path.relpath(os.path.realpath(folder), self.base).replace(os.sep, "/")
            except ValueError:  # another drive on Windows: keep the absolute path
                self.folders[folder] = None
        relative = self.folders[folder]
        if relative is None:
            return path
        return name if relative == "." else f"{relative}/{name}"


def write_project(project: Project, path: Path, own_media: Iterable[Path] = ()) -> None:
    """Save `project` to `path`. Generated clips whose files lie inside one of `own_media` (the
    folders the app itself generates into) are first copied into the project's media folder and
    the items then point at the copies; any other path, whatever the item's `generated` flag says
    (it comes from a file too: ``../../secret``, ``/etc/passwd``), stays a reference and is never
    copied. Every copy goes through a ``.part`` name and os.replace, and the project file is
    written last, atomically, so a kill at any moment leaves the old project or the new one, each
    with its media complete under their final names."""
    path = Path(path)
    target = media_folder(path)
    settle(path)  # leftovers of a save that was killed: its writer is gone
    clean_folder(target)
    owned = [Path(os.path.realpath(p)) for p in own_media]
    here = Path(os.path.realpath(target))
    copied: set[Path] = set()  # a take on the timeline is both a media item and a History take
    for item in [*project.media.values(), *(t.item for t in project.history or [])]:
        source = Path(os.path.realpath(item.path))  # a link inside our folder to elsewhere is elsewhere
        if not item.generated or item.offline or source.parent == here:
            continue
        if not any(source.is_relative_to(folder) for folder in owned):
            continue
        target.mkdir(parents=True, exist_ok=True)
        sidecar = source.with_suffix(".json")
        own_sidecar = sidecar.is_file() and any(Path(os.path.realpath(sidecar)).is_relative_to(f) for f in owned)
        if source not in copied:
            copy_atomic([source, sidecar] if own_sidecar else [source], target)
            copied.add(source)
        item.path = str(target / source.name)
    atomic_write_text(path, project_text(project_data(project, path.parent.resolve())))


def copy_atomic(sources: list[Path], folder: Path) -> None:
    """Copy files (a clip and its sidecar) into `folder` under their own names, all or none
    (media.atomic.AtomicGroup): the bytes go to hidden `.NAME.PID-RANDOM.part` files, are fsynced,
    then renamed into place. A killed copy's parts carry the dead pid, so the next save removes them."""
    with AtomicGroup() as group:
        for source in sources:
            shutil.copy2(source, group.temp_for(folder / source.name))
