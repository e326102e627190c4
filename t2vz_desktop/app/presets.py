"""Style presets: a named set of generation settings (model, LoRAs with their scales, scheduler,
steps, guidance, the consistency options, negative prompt) that the Generate panel applies in
one step. No Qt here: the file format, the built-ins, and loading, saving and validation.

A preset is the JSON file `<data dir>/presets/<name>.json`, shared by copying the file:

    {"t2vz_preset": 1, "settings": {"scheduler": "ddim", "steps": 30, "loras": [...]}}

A preset sets only the settings it names. The file comes from anyone, so it is checked at load
the way a recipe is (GenerationRequest's kinds and ranges, unknown fields refused), with one
line naming the file for anything wrong; and it can never grant consent (allow_unsafe_pickle):
a pickle model that a preset names is asked about when generating, as any other is.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..engine.jsonfile import JsonFileError, read_json
from ..engine.paths import resources_dir
from ..engine.request import (
    CONSENT_FIELDS, DEFAULT_MODEL, SD_DEFAULTS, FieldError, GenerationRequest, RequestError, from_data, in_file_terms,
)
from ..media import atomic_write_text

PRESET_VERSION = 1
# The request fields a preset may name: how to draw, not what (no prompt, size, frames or seed).
PRESET_FIELDS = ("model", "loras", "scheduler", "steps", "guidance", "attention_window", "noise_window",
                 "step_noise", "background_smoothing", "subject_mask", "smooth", "negative_prompt", "speed")
MAX_NAME = 64


class PresetError(ValueError):
    """A preset file or name that cannot be used; the message is one line for the user."""


@dataclass
class Preset:
    name: str
    settings: dict  # request fields, as asdict(GenerationRequest) gives them (loras as dicts)
    builtin: bool = False
    path: Path | None = None  # its file; None for a built-in
    # for the tooltip: what the preset sets, e.g. "steps 50, guidance 7.5"
    summary: str = field(init=False, default="")

    def __post_init__(self) -> None:
        self.summary = ", ".join(f"{k.replace('_', ' ')} {_shown(v)}" for k, v in self.settings.items())


def _shown(value) -> str:
    if isinstance(value, list):  # LoRAs
        return "[" + ", ".join(f"{Path(v['path']).name} x{v['scale']:g}" for v in value) + "]"
    if value is None:
        return "auto"
    return f"{value:g}" if isinstance(value, float) else repr(value) if isinstance(value, str) else str(value)


def check_settings(settings: object, source: str) -> dict:
    """`settings` checked as request fields (kinds and ranges as a recipe's); returns them in
    asdict form. PresetError names `source` and the field."""
    if not isinstance(settings, dict):
        raise PresetError(f"{source}: 'settings' must be an object")
    for name in sorted(set(settings) - set(PRESET_FIELDS)):
        if name in CONSENT_FIELDS:
            raise PresetError(f"{source}: a preset cannot set {name}; that is the user's own choice when generating")
        raise PresetError(f"{source}: '{name}' is not a preset setting (a preset names {', '.join(PRESET_FIELDS)})")
    try:
        # A placeholder prompt makes it a request the engine's own rules can check.
        request = from_data(GenerationRequest, {"prompts": ["preset"], **settings}).validate()
    except (FieldError, RequestError) as e:
        raise PresetError(f"{source}: {in_file_terms(str(e))}") from None
    full = asdict(request)
    return {name: full[name] for name in PRESET_FIELDS if name in settings}


def load_preset(path: Path) -> Preset:
    """The preset in file `path` (its name is the file's); PresetError, one line naming the file."""
    source = path.name
    try:
        data = read_json(path, f"preset {source}")
    except JsonFileError as e:
        raise PresetError(str(e)) from None
    version = data.get("t2vz_preset") if isinstance(data, dict) else None
    if type(version) is not int or version != PRESET_VERSION:
        raise PresetError(f"{source} is not a t2vz preset (it needs \"t2vz_preset\": {PRESET_VERSION})")
    unknown = sorted(set(data) - {"t2vz_preset", "settings"})
    if unknown:
        raise PresetError(f"{source}: '{unknown[0]}' is not a preset key (a preset has t2vz_preset and settings)")
    return Preset(path.stem, check_settings(data.get("settings"), source), path=path)


def clean_name(name: str) -> str:
    """`name` as a file name: letters, digits, spaces, - _ . ( ) kept (runs of spaces as one, no
    leading dot), the rest dropped, at most MAX_NAME characters; PresetError when nothing is left."""
    cleaned = re.sub(r"\s+", " ", re.sub(r"[^\w\s.()-]", "", name)).strip(" .")[:MAX_NAME].strip()
    if not cleaned:
        raise PresetError("give the preset a name (letters, digits, spaces)")
    return cleaned


def save_preset(folder: Path, name: str, settings: dict) -> Preset:
    """Write `settings` (request fields in asdict form; only PRESET_FIELDS are kept) as preset
    `name` in `folder`, atomically, over an older one of the same name. A built-in's name is
    refused: built-ins are read-only."""
    name = clean_name(name)
    if any(name.casefold() == b.name.casefold() for b in builtin_presets()):
        raise PresetError(f"'{name}' is a built-in preset; save under another name")
    kept = check_settings({k: v for k, v in settings.items() if k in PRESET_FIELDS}, name)
    path = Path(folder) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps({"t2vz_preset": PRESET_VERSION, "settings": kept}, indent=2) + "\n")
    return Preset(name, kept, path=path)


def delete_preset(preset: Preset) -> None:
    if preset.builtin or preset.path is None:
        raise PresetError(f"'{preset.name}' is a built-in preset and cannot be deleted")
    preset.path.unlink(missing_ok=True)


def builtin_presets() -> list[Preset]:
    """Paper defaults (the paper's model and sampling, no extras: `--smooth 0` is the paper's
    method exactly), Steady (stronger consistency options), and the demo model's own settings
    when it is installed."""
    paper = {"model": DEFAULT_MODEL, "loras": [], "scheduler": SD_DEFAULTS["scheduler"], "steps": SD_DEFAULTS["steps"],
             "guidance": SD_DEFAULTS["guidance"], "attention_window": 0, "noise_window": 0,
             "background_smoothing": 0.0, "smooth": 0.0, "negative_prompt": "", "speed": "auto"}
    # Steady names the consistency options only, so it goes on top of any model: each frame also
    # attends to its 2 previous ones, frames past 16 reuse the first 16's noise, the paper's
    # background smoothing at its 0.6, and the post smoother a little above its measured 0.5.
    steady = {"attention_window": 2, "noise_window": 16, "background_smoothing": 0.6,
              "subject_mask": "refined", "smooth": 0.7}
    presets = [Preset("Paper defaults", paper, builtin=True), Preset("Steady", steady, builtin=True)]
    demo = resources_dir() / "models" / "demo" / "t2vz.json"
    if demo.is_file():  # read from the model's own file, so the preset follows it
        own = json.loads(demo.read_text(encoding="utf-8"))
        # The sampler as "auto" (the model's own, from the same file) rather than its name, so that
        # picking another model afterwards does not carry the demo's sampler over to it.
        settings = {"model": "demo", "loras": [], "scheduler": None,
                    **{k: own[k] for k in ("steps", "guidance") if k in own}}
        presets.append(Preset("Demo model", check_settings(settings, "the demo model's t2vz.json"), builtin=True))
    return presets


def all_presets(folder: Path | None) -> tuple[list[Preset], list[str]]:
    """The built-ins, then the presets in `folder` by name; and one line for each file there that
    was left out (malformed, or named like a built-in)."""
    presets, problems = builtin_presets(), []
    taken = {p.name.casefold() for p in presets}
    files = sorted(Path(folder).glob("*.json"), key=lambda p: p.stem.casefold()) if folder and Path(folder).is_dir() else []
    for path in files:
        if path.stem.casefold() in taken:
            problems.append(f"{path.name}: a built-in preset has that name; rename the file")
            continue
        try:
            presets.append(load_preset(path))
        except PresetError as e:
            problems.append(str(e))
    return presets, problems
