"""File > Models... (app/models_dialog.py): installed models listed, a known model downloaded on
the background thread with progress, a download cancelled, a refusal shown. The download itself
is engine/model_store.py's, tested against a local hub in tests/test_model_store.py; here it is
replaced by a stand-in that reports bytes as the real one does."""

from __future__ import annotations

import time

import pytest
from test_app_fixtures import window  # noqa: F401 - the fixture

from t2vz_desktop.app import models_dialog
from t2vz_desktop.engine.model_store import CURATED, DownloadCancelled, Plan
from t2vz_desktop.engine.models import ModelError


@pytest.fixture
def fake_hub(monkeypatch, tmp_path):
    calls = []

    def plan(repo_id, variant=None, allow_pickle=False, revision=None):
        if repo_id == CURATED[1].repo_id:
            raise ModelError(f"'{repo_id}' needs 6.5 GiB and the disk has 1.0 GiB free")
        calls.append((repo_id, variant))
        return Plan(repo_id, "0" * 40, ("model_index.json",), 4 << 20)

    def download(plan, progress=None, cancelled=lambda: False):
        for k in range(1, 5):
            if cancelled():
                raise DownloadCancelled("cancelled")
            time.sleep(0.05 if calls[-1][0] != CURATED[2].repo_id else 0.5)
            progress(k << 20, plan.bytes)
        return tmp_path / "snapshot"

    monkeypatch.setattr(models_dialog, "plan_download", plan)
    monkeypatch.setattr(models_dialog, "download", download)
    return calls


def select(dialog, repo_id: str) -> None:
    row = next(r for r in range(dialog.known.rowCount()) if dialog.known.item(r, 0).data(0x0100) == repo_id)
    dialog.known.selectRow(row)


def test_the_dialog_lists_what_is_installed_and_downloads_a_known_model(window, qtbot, fake_hub):
    dialog = window.open_models_dialog()
    names = [dialog.installed.item(r, 0).text() for r in range(dialog.installed.rowCount())]
    assert "demo" in names
    assert [dialog.known.item(r, 0).data(0x0100) for r in range(dialog.known.rowCount())] == [k.repo_id for k in CURATED]
    assert not dialog.download_button.isEnabled()  # nothing chosen yet
    select(dialog, CURATED[0].repo_id)
    qtbot.mouseClick(dialog.download_button, models_dialog.Qt.LeftButton)
    qtbot.waitUntil(lambda: "is installed" in dialog.status.text(), timeout=10_000)
    assert fake_hub == [(CURATED[0].repo_id, "fp16")]  # the known model's variant
    assert dialog.progress.value() == 1000 and not dialog.cancel_button.isEnabled()
    dialog.done(0)


def test_a_download_can_be_cancelled_and_a_refusal_is_said(window, qtbot, fake_hub):
    dialog = window.open_models_dialog()
    select(dialog, CURATED[2].repo_id)  # the slow one
    dialog.start_download()
    qtbot.waitUntil(lambda: "Downloading" in dialog.status.text(), timeout=10_000)
    qtbot.mouseClick(dialog.cancel_button, models_dialog.Qt.LeftButton)
    qtbot.waitUntil(lambda: "cancelled" in dialog.status.text(), timeout=10_000)
    select(dialog, CURATED[1].repo_id)
    dialog.start_download()
    qtbot.waitUntil(lambda: "disk has" in dialog.status.text(), timeout=10_000)
    assert dialog.download_button.isEnabled()
    dialog.done(0)


def test_the_first_run_box_offers_downloads(window):
    box = window.first_run_check({"offer_demo": True, "gpu": "none", "message": "No weights."}, force=True)
    assert "Download models..." in [b.text() for b in box.buttons()]
    box.close()
