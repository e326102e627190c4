"""Generated takes as plain data (no Qt): a take made from a finished job's video, what the
History panel shows of it (prompt, model, seed), and the history rebuilt from the recipe
sidecars in a project's media folder when the project file has none (or a damaged one)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..engine.request import GenerationRequest, RequestError
from .project_types import MediaItem, Take, new_id

VIDEO_SUFFIXES = (".mp4", ".webm", ".gif")  # what the app and the CLI write generated videos as


@dataclass
class TakeInfo:
    """What the History panel lists of a take, read from its recipe."""

    prompt: str
    model: str
    seed: int | None
    edit: bool  # made by Edit with... from a source video


def now() -> str:
    """The local date and time to the second, as Take.created keeps it."""
    return datetime.now().isoformat(timespec="seconds")


def make_take(path: Path, recipe: str, width: int, height: int, fps: float, frames: int, has_audio: bool,
              seconds: float, batch: int) -> Take:
    """A take of a video the app just generated (`seconds`: the job's wall-clock time)."""
    item = MediaItem(new_id(), str(path), path.name, width, height, fps, frames, has_audio=has_audio, recipe=recipe,
                     generated=True)
    return Take(item, round(seconds, 2), batch, now())


def take_info(take: Take) -> TakeInfo:
    """Prompt, model and seed of a take (its recipe was checked when it was made or read)."""
    try:
        r = json.loads(take.item.recipe or "{}")
    except ValueError:
        r = {}
    prompts = r.get("prompts") or [""]
    return TakeInfo(str(prompts[0]), str(r.get("model", "")), r.get("seed"), r.get("edit") is not None)


def rebuild_history(folder: Path) -> list[Take]:
    """Every generated video in `folder` (a project's NAME_media) that has a readable recipe
    sidecar beside it, oldest first by file time. How long each took is not in a recipe (0)."""
    from ..media import has_audio  # the one reader's probe; only an edit can carry sound

    takes: list[Take] = []
    sidecars = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
    for sidecar in sidecars:
        video = next((v for v in (sidecar.with_suffix(s) for s in VIDEO_SUFFIXES) if v.is_file()), None)
        if video is None:
            continue
        try:
            text = sidecar.read_text(encoding="utf-8")
            r = GenerationRequest.from_json(text, sidecar.name)
        except (OSError, UnicodeDecodeError, RequestError):
            continue  # not a recipe of ours (or damaged): a file, not a take
        if r.width is None or r.height is None or r.seed is None:
            continue  # not a resolved recipe: it cannot describe a made video
        sound = r.edit is not None and r.edit.keep_audio and has_audio(video)
        item = MediaItem(new_id(), os.path.normpath(video), video.name, r.width, r.height, r.fps, r.frames,
                         has_audio=sound, recipe=text, generated=True)
        made = datetime.fromtimestamp(video.stat().st_mtime).isoformat(timespec="seconds")
        takes.append(Take(item, 0.0, 1, made))
    return takes
