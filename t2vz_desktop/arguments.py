"""Command-line parsing for the product's tools besides `t2vz` (the app's launcher, the demo
model's trainer, evaluator and mask-layer finder): a bad flag or value is one line on stderr
and exit 2, before any model loads, as DEVELOPERS.md asks of every command."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

BAD_INPUT = 2


class OneLineParser(argparse.ArgumentParser):
    """argparse, but an error is `prog: error: message (see --help)` and exit 2, not the usage
    block (16 lines for the trainer, which buried the message)."""

    def error(self, message: str):
        self.exit(BAD_INPUT, f"{self.prog}: error: {message} (see --help)\n")


def number(kind: type, low: float | None = None, high: float | None = None, *, above: bool = False):
    """An argparse `type` for an int or float in [low, high] (`above`: low itself excluded);
    NaN and infinities are refused."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number (got {text})")
        too_low = low is not None and (value <= low if above else value < low)
        if too_low or (high is not None and value > high):
            show = str if kind is int else (lambda v: f"{v:g}")
            if high is None:
                bound = f"above {show(low)}" if above else f"at least {show(low)}"
            else:
                bound = f"between {show(low)} and {show(high)}"
            raise argparse.ArgumentTypeError(f"must be {bound} (got {text})")
        return value
    parse.__name__ = kind.__name__  # argparse names the type in its own messages
    return parse


def model_folder(text: str) -> Path:
    """An argparse `type` for a diffusers model folder, checked as `--model` checks one
    (engine.models.check_model_folder: its parts, the pipeline's kind, its t2vz.json)."""
    from .engine.models import ModelError, check_model_folder

    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text} does not exist")
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, not a model folder")
    if not (path / "model_index.json").is_file():
        raise argparse.ArgumentTypeError(f"{text} is not a model folder (no model_index.json in it)")
    try:
        check_model_folder(path, text)
    except ModelError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return path
