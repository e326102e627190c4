"""The timeline and media bin as plain Python: no Qt here, so every edit is unit-testable.

Units: every position, in point and out point is a frame number at the project's frame rate.
A source of another rate is resampled (its frame for project frame k is floor(k * src / project)),
and a source of another size is scaled to fit the project's frame when shown or rendered.
Tracks are kept top first: where clips overlap in time, the one on the higher track wins.
"""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path

FORMAT_VERSION = 1
PROJECT_SUFFIX = ".t2vz"

from ..media.reader import VIDEO_SUFFIXES  # noqa: F401 - a project's media path to anything else is not opened

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
class Project:
    width: int = 512
    height: int = 512
    fps: float = 8.0
    tracks: list[Track] = field(default_factory=list)
    media: dict[str, MediaItem] = field(default_factory=dict)

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
        """The clip shown at `frame`: the one on the highest track."""
        for t in self.tracks:
            c = t.clip_at(frame)
            if c is not None:
                return c
        return None

    def edges(self, ignore: str | None = None) -> list[int]:
        """Clip starts and ends, the positions that moves and trims snap to."""
        return sorted({e for t in self.tracks for c in t.clips if c.id != ignore for e in (c.start, c.end)})

    def snapshot(self) -> dict:
        return copy.deepcopy({"width": self.width, "height": self.height, "fps": self.fps,
                              "tracks": self.tracks, "media": self.media})

    def restore(self, state: dict) -> None:
        state = copy.deepcopy(state)
        self.width, self.height, self.fps = state["width"], state["height"], state["fps"]
        self.tracks, self.media = state["tracks"], state["media"]

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
        if index == 0 or not self.tracks[index - 1].fits(below.start, length):
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
        length = item.length_at(self.fps)
        at = track.free_start(max((c.end for c in track.clips), default=0) if start is None else start, length)
        clip = Clip(new_id(), media_id, at, 0, length)
        track.clips.append(clip)
        self._sort(track)
        return clip

    def move_clip(self, clip_id: str, track_id: str, start: int) -> None:
        old_track, clip = self.find_clip(clip_id)
        new_track = self.track(track_id)
        if not new_track.fits(start, clip.length, ignore=clip.id):
            raise EditError("the clip would overlap another clip")
        old_track.clips.remove(clip)
        clip.start = start
        new_track.clips.append(clip)
        self._sort(new_track)

    def trim_clip(self, clip_id: str, side: str, frame: int) -> None:
        """Move the clip's left or right edge to timeline frame `frame`; the content stays put."""
        track, clip = self.find_clip(clip_id)
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
        if not clip.start < frame < clip.end:
            raise EditError("the playhead is not inside the clip")
        cut = clip.in_point + frame - clip.start
        right = Clip(new_id(), clip.media_id, frame, cut, clip.out_point)
        clip.out_point = cut
        track.clips.append(right)
        self._sort(track)
        return right

    def delete_clip(self, clip_id: str) -> None:
        track, clip = self.find_clip(clip_id)
        track.clips.remove(clip)

    # -- keyframes of generated clips ----------------------------------------------------------
    # Keys live in the clip's recipe, numbered in frames of the generated video (its source
    # frames), so trimming or moving a clip on the timeline never detaches them from its content.
    def keys(self, media_id: str, lane: str) -> list[dict]:
        """The camera ("camera") or prompt ("prompt") keys of a generated item, sorted by frame."""
        recipe = _working_recipe(self.media[media_id])
        return sorted(recipe.get(LANES[lane]) or [], key=lambda k: k["frame"])

    def add_key(self, media_id: str, lane: str, frame: int) -> dict:
        """A new key at source frame `frame`, holding the values the video has there now."""
        item = self.media[media_id]
        recipe, keys = _working_recipe(item), self.keys(media_id, lane)
        if not 0 <= frame < item.frames:
            raise EditError(f"frame {frame} is outside the clip (0-{item.frames - 1})")
        if any(k["frame"] == frame for k in keys):
            raise EditError(f"there is already a {lane} key at frame {frame}")
        if lane == "camera":
            from ..engine.camera import CameraKey, camera_at

            now = [CameraKey(k["frame"], tuple(k["pan"]), k["zoom"], k["rotate"], k["ease"]) for k in keys]
            if now:
                x, y, zoom, rotate = camera_at(now, frame)
            else:
                # The first key replaces the clip's motion: the path starts as that motion, a key
                # at the first and last frames on its line, so the take stays as it was (pan 0,0
                # made a static take).
                dx, dy = _recipe_motion(recipe, item)
                x, y, zoom, rotate = dx * frame, dy * frame, 1.0, 0.0
                last = (recipe.get("frames") or item.frames) - 1
                keys += [{"frame": f, "pan": [dx * f, dy * f], "zoom": 1.0, "rotate": 0.0, "ease": "linear"}
                         for f in sorted({0, last} - {frame})]
            key = {"frame": frame, "pan": [x, y], "zoom": zoom, "rotate": rotate, "ease": "linear"}
        else:
            clash = [name for name, on in (("edits", recipe.get("edit")), ("a start image", recipe.get("init_image") or recipe.get("end_image")),
                                           ("an attention window", recipe.get("attention_window")),
                                           ("background smoothing", recipe.get("background_smoothing"))) if on]
            if clash:
                raise EditError(f"prompt travel does not combine with {clash[0]} yet")
            before = [k for k in keys if k["frame"] < frame]
            prompt = before[-1]["prompt"] if before else recipe["prompts"][0]
            key = {"frame": frame, "prompt": prompt, "seed": None}
            if not keys and frame != 0:  # prompt travel needs a key at frame 0
                keys.append({**key, "frame": 0})
        keys.append(key)
        self._set_keys(item, lane, keys)
        return key

    def move_key(self, media_id: str, lane: str, frame: int, to: int) -> None:
        item = self.media[media_id]
        keys = self.keys(media_id, lane)
        key = next((k for k in keys if k["frame"] == frame), None)
        if key is None:
            raise EditError(f"no {lane} key at frame {frame}")
        if lane == "prompt" and frame == 0 and to != 0:
            raise EditError("the first prompt key stays at frame 0")
        if not 0 <= to < item.frames:
            raise EditError(f"frame {to} is outside the clip (0-{item.frames - 1})")
        if any(k["frame"] == to for k in keys if k is not key):
            raise EditError(f"there is already a {lane} key at frame {to}")
        key["frame"] = to
        self._set_keys(item, lane, keys)

    def delete_key(self, media_id: str, lane: str, frame: int) -> None:
        item = self.media[media_id]
        keys = self.keys(media_id, lane)
        if not any(k["frame"] == frame for k in keys):
            raise EditError(f"no {lane} key at frame {frame}")
        rest = [k for k in keys if k["frame"] != frame]
        if lane == "prompt" and frame == 0 and rest:
            raise EditError("the first prompt key stays at frame 0 (delete the others first)")
        self._set_keys(item, lane, rest)

    @staticmethod
    def _set_keys(item: MediaItem, lane: str, keys: list[dict]) -> None:
        recipe = _working_recipe(item)
        keys = sorted(keys, key=lambda k: k["frame"])
        recipe[LANES[lane]] = keys or None
        if lane == "prompt" and keys:
            recipe["prompts"] = [keys[0]["prompt"]]
        item.edited_recipe = json.dumps(recipe, indent=2)

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


LANES = {"camera": "camera", "prompt": "prompt_keys"}  # keyframe lane -> recipe field


def _recipe_motion(recipe: dict, item: MediaItem) -> tuple[float, float]:
    """The motion (output px per frame) a clip was made with: its recipe's, or the default the
    engine filled in for a recipe that left it out."""
    from ..engine.camera import default_motion

    if recipe.get("motion") is not None:
        dx, dy = recipe["motion"]
        return float(dx), float(dy)
    return default_motion(recipe.get("width") or item.width, recipe.get("height") or item.height)


def _working_recipe(item: MediaItem) -> dict:
    """The item's recipe as edited so far (JSON data); an item that was not generated has none."""
    text = item.edited_recipe or item.recipe
    if not text:
        raise EditError(f"{item.name} was not generated here: it has no keyframes")
    return json.loads(text)


def media_folder(project_file: Path) -> Path:
    """Where generated media of a saved project live: beside the project file."""
    return project_file.with_name(project_file.stem + "_media")
