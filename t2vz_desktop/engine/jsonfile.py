"""Reading a JSON file that anyone may have written (a project, a preset, a model's t2vz.json):
every way it can fail is one line naming the file, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path


class JsonFileError(ValueError):
    """A JSON file that cannot be read or parsed; the message names the file and where it broke."""


def read_json(path: Path, name: str | None = None) -> object:
    """The parsed contents of `path`; JsonFileError for a file that cannot be read, is not UTF-8
    text, is not JSON (line and column, and whether it ends early, as a file cut short by a full
    disk or a killed writer does) or nests too deeply for the parser. `name`: how messages name
    the file (default: its path)."""
    name = name or str(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise JsonFileError(f"cannot read {name}: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark, as Windows Notepad writes, is not an error
    except UnicodeDecodeError as e:
        raise JsonFileError(f"{name} is not UTF-8 text (byte {e.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        ends_early = e.pos >= len(text.rstrip()) or e.msg.startswith("Unterminated string")
        cut = "; the file ends early (cut short?)" if ends_early else ""
        raise JsonFileError(f"{name} is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}{cut})") from None
    except RecursionError:
        raise JsonFileError(f"{name} is nested too deeply to read") from None
