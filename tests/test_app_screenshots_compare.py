"""Screenshots of the compare view and the style presets row, made offscreen like the others:
`T2VZ_SCREENSHOTS=docs/screenshots pytest tests/test_app_screenshots_compare.py`. Skipped in
ordinary runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from test_app_fixtures import window  # noqa: F401 - the fixture
from test_app_screenshots import sunset_clip

from t2vz_desktop.engine.request import GenerationRequest

OUT = os.environ.get("T2VZ_SCREENSHOTS")
pytestmark = pytest.mark.skipif(not OUT, reason="set T2VZ_SCREENSHOTS=folder to make the README screenshots")


def test_compare_and_presets_screenshots(window, qtbot, tmp_path):
    out = Path(OUT)
    out.mkdir(parents=True, exist_ok=True)
    takes = []
    for name, frames, seed, steps in (("take-1.mp4", 32, 7, 20), ("take-2.mp4", 24, 11, 30)):
        path = sunset_clip(tmp_path / name, frames=frames, sound=False)
        recipe = GenerationRequest(["a sunset over the sea"], model="demo", seed=seed, steps=steps, guidance=5.0)
        path.with_suffix(".json").write_text(recipe.to_json())
        takes.append(path)
    window.import_files(takes)
    dialog = window.compare_files(str(takes[0]), str(takes[1]))
    dialog.resize(900, 560)
    qtbot.waitUntil(lambda: dialog.ready and dialog.shown_tick == dialog.tick, timeout=10_000)
    dialog.seek(2.0)
    qtbot.waitUntil(lambda: dialog.shown_tick == dialog.tick, timeout=10_000)
    QApplication.processEvents()
    dialog.grab().save(str(out / "compare.png"))
    dialog.mode.setCurrentText("Wipe")
    dialog.view.wipe = 0.4
    QApplication.processEvents()
    dialog.grab().save(str(out / "compare-wipe.png"))
    dialog.close()

    panel = window.panel
    panel.prompt.setPlainText("a sunset over the sea")
    panel.presets.save_as("My sunset look")
    index = [p.name for p in panel.presets.presets].index("Steady")
    panel.presets.combo.setCurrentIndex(index)
    panel.presets.combo.activated.emit(index)
    window.resize(1360, 860)
    QApplication.processEvents()
    panel.parentWidget().grab().save(str(out / "presets.png"))  # the Generate panel in its scroll area
