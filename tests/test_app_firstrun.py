"""First start of an installed app: Help > About names the torch build, the Models folder opens
from the menus and feeds the model list, and the first-run dialog offers the demo model."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMessageBox
from test_app_fixtures import window  # noqa: F401 - the fixture

from t2vz_desktop.engine import system


def test_about_names_the_build_and_the_models_folder(window, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("T2VZ_MODELS_DIR", str(tmp_path / "Models"))
    box = window.about()
    assert "development checkout (torch " in box.text() and str(tmp_path / "Models") in box.text()
    box.close()

    resources = tmp_path / "resources"
    resources.mkdir()
    (resources / "build_info.json").write_text(json.dumps(
        {"torch_flavour": "cu124", "torch_version": "2.13.0+cu124", "cuda_version": "12.4", "platform": "linux-x86_64"}))
    monkeypatch.setenv("T2VZ_RESOURCES", str(resources))
    box = window.about()
    assert "packaged build, linux-x86_64: torch 2.13.0+cu124 (cu124, CUDA 12.4)" in box.text()
    box.close()


def test_models_folder_is_created_opened_and_listed(window, tmp_path, monkeypatch):  # noqa: F811
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    folder = tmp_path / "Models"
    monkeypatch.setenv("T2VZ_MODELS_DIR", str(folder))
    menus = {a.text() for m in window.menuBar().findChildren(type(window.recent_menu)) for a in m.actions()}
    assert {"Open &Models folder", "&About t2vz-desktop", "Check &GPU and models..."} <= menus

    window.actions_by_name["models_folder"].trigger()
    assert folder.is_dir() and opened == [str(folder)]
    (folder / "my-finetune").mkdir()
    (folder / "my-finetune" / "model_index.json").write_text("{}")
    (folder / "style.safetensors").write_bytes(b"x")
    window.open_models_folder()  # re-reads the list, keeps the choice
    labels = [window.panel.model.itemText(i) for i in range(window.panel.model.count())]
    assert labels[0] == "Built-in demo model"
    assert "my-finetune (Models folder)" in labels and "style.safetensors (Models folder)" in labels
    assert window.panel.model.currentData() == "demo"
    index = labels.index("style.safetensors (Models folder)")
    assert window.panel.model.itemData(index) == str(folder / "style.safetensors")


def test_first_run_offers_the_demo_model_once(window, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: True)
    monkeypatch.setenv("T2VZ_MODELS_DIR", str(tmp_path / "Models"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    window.panel.set_model("/somewhere/else")
    box = window.first_run_check()
    assert box is not None and box.isVisible()
    assert "No Stable Diffusion weights were found" in box.text() and str(tmp_path / "Models") in box.text()
    demo = next(b for b in box.buttons() if b.text() == "Use the built-in demo model")
    demo.click()
    assert window.panel.model.currentData() == "demo"
    assert window.first_run_check() is None  # shown once; Help > Check GPU and models shows it again
    again = window.first_run_check(force=True)
    assert again is not None
    again.close()


def test_first_run_warns_when_the_driver_is_too_old(window, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("T2VZ_MODELS_DIR", str(tmp_path / "Models"))
    (tmp_path / "Models").mkdir()
    (tmp_path / "Models" / "sd15.safetensors").write_bytes(b"x")
    monkeypatch.setattr(system, "driver_cuda_version", lambda: (11, 4))
    report = system.first_run_report({"cuda_version": "12.4"})
    assert report["gpu"] == "driver-too-old" and report["offer_demo"] and report["models"]
    box = window.first_run_check(report)
    assert box.icon() == QMessageBox.Warning and "525.60.13" in box.text()
    box.close()
    # A usable GPU and weights: nothing to say on first start.
    window.settings.remove("first_run/done")
    good = {"gpu": "ok", "models": ["x"], "offer_demo": False, "message": "fine"}
    assert window.first_run_check(good) is None


def test_installed_torch_build_is_read_without_importing_it(tmp_path, monkeypatch):
    import importlib.util

    fake = tmp_path / "torch"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise RuntimeError('must not be imported')\n")
    (fake / "version.py").write_text("__version__ = '2.13.0+cu128'\ncuda: Optional[str] = '12.8'\n")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: importlib.machinery.ModuleSpec(name, None, origin=str(fake / "__init__.py"))
                        if name == "torch" else real(name, *a))
    assert system.installed_torch_cuda() == "12.8"
    (fake / "version.py").write_text("cuda: Optional[str] = None\n")
    assert system.installed_torch_cuda() is None
    assert Path(system.__file__).parent.name == "engine"
