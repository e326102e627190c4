"""Where the project's resources are: beside the package in a checkout, or where a frozen
bundle put them. T2VZ_RESOURCES overrides both."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def resources_dir() -> Path:
    if os.environ.get("T2VZ_RESOURCES"):
        return Path(os.environ["T2VZ_RESOURCES"])
    bundle = getattr(sys, "_MEIPASS", None)  # PyInstaller's unpack folder
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"
