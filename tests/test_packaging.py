"""Cheap checks of the packaging recipes: the real build and its smoke test run in .ci/run
(packaging/build_linux.sh, packaging/smoke_test.sh), not here."""

from __future__ import annotations

import ast
import configparser
import os
import shutil
import stat
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ROOT / "packaging"
SCRIPTS = [
    "build_linux.sh", "smoke_test.sh", "macos/build_macos.sh",
]


def spec_lists() -> dict[str, object]:
    """The top-level list constants of packaging/t2vz.spec, read without running it."""
    tree = ast.parse((PACKAGING / "t2vz.spec").read_text())
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                found[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return found


@pytest.fixture(scope="module")
def firstrun():
    from t2vz_desktop.engine import system

    return system


def test_spec_carries_every_resource_folder_and_names_both_executables():
    lists = spec_lists()
    assert {"configs", "tokenizers", "icons", "models"} <= set(lists["RESOURCE_DIRS"])
    for name in ("configs", "tokenizers", "icons"):  # models/demo may still be training
        assert (ROOT / "resources" / name).is_dir(), name
    assert lists["APP_NAME"] == "t2vz-desktop" and lists["CLI_NAME"] == "t2vz"
    text = (PACKAGING / "t2vz.spec").read_text()
    assert text.count("EXE(") == 2 and text.count("COLLECT(") == 1  # one folder, two programs
    for launcher in ("launch_app.py", "launch_cli.py", "rthook_t2vz.py"):
        assert launcher in text and (PACKAGING / launcher).is_file()


def test_spec_keeps_what_the_app_imports():
    lists = spec_lists()
    excluded = set(lists["EXCLUDES"])
    for needed in ("PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets", "PySide6.QtSvg", "torch",
                   "diffusers", "transformers", "av", "cv2", "numpy"):
        assert needed not in excluded
    assert not any("platforms/" in d or "iconengines/" in d or "imageformats/" in d for d in lists["DROP"])
    assert {"torch", "diffusers", "transformers"} <= set(lists["METADATA"])
    assert not any(d.startswith("torch/lib/libtorch_cpu") or d.startswith("torch/lib/libc10") for d in lists["DROP"])


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_are_executable_and_parse(script):
    path = PACKAGING / script
    assert path.stat().st_mode & stat.S_IXUSR, f"{script} is not executable"
    assert path.read_text().startswith("#!")
    subprocess.run(["bash", "-n", str(path)], check=True)


def test_build_script_help_and_bad_options():
    script = str(PACKAGING / "build_linux.sh")
    shown = subprocess.run(["bash", script, "--help"], capture_output=True, text=True)
    assert shown.returncode == 0 and "--torch cpu|cuda" in shown.stdout
    assert subprocess.run(["bash", script, "--torch", "rocm"], capture_output=True).returncode == 2
    assert subprocess.run(["bash", script, "--bogus"], capture_output=True).returncode == 2


def test_smoke_test_refuses_a_missing_bundle(tmp_path):
    done = subprocess.run(["bash", str(PACKAGING / "smoke_test.sh"), str(tmp_path / "nothing")],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "no such bundle" in done.stderr


def test_desktop_entry_is_valid():
    path = PACKAGING / "linux" / "t2vz-desktop.desktop"
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read_string(path.read_text())
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application" and entry["Name"]
    assert entry["Exec"].split()[0] == "t2vz-desktop" and entry["Exec"].split()[1] in ("%f", "%F", "%u", "%U")
    assert entry["Icon"] == "t2vz-desktop" and entry["Terminal"] == "false"
    assert entry["Categories"].endswith(";") and "AudioVideo" in entry["Categories"].split(";")
    mime = ET.parse(PACKAGING / "linux" / "t2vz-desktop-mime.xml").getroot()
    ns = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}
    mime_type = mime.find("m:mime-type", ns)
    assert entry["MimeType"] == mime_type.get("type") + ";"
    assert mime_type.find("m:glob", ns).get("pattern") == "*.t2vz"
    if shutil.which("desktop-file-validate"):
        subprocess.run(["desktop-file-validate", str(path)], check=True)


def test_deb_control_template_has_the_required_fields():
    fields = dict(
        line.split(": ", 1) for line in (PACKAGING / "linux" / "control.in").read_text().splitlines()
        if line and not line.startswith(" ")
    )
    for key in ("Package", "Version", "Architecture", "Maintainer", "Description", "Installed-Size"):
        assert fields.get(key), key
    assert fields["Package"] == "t2vz-desktop"


def test_build_tool_is_pinned():
    pins = (PACKAGING / "requirements-build.txt").read_text().split()
    assert any(p.startswith("pyinstaller==") for p in pins)


def test_windows_installer_has_start_menu_entry_and_project_association():
    iss = (PACKAGING / "windows" / "t2vz-desktop.iss").read_text()
    assert "[Icons]" in iss and '"{group}\\t2vz-desktop"' in iss
    assert 'Subkey: "Software\\Classes\\.t2vz"' in iss and "shell\\open\\command" in iss
    assert "ChangesAssociations=yes" in iss
    assert (PACKAGING / "windows" / "t2vz.ico").is_file() and (PACKAGING / "macos" / "t2vz.icns").is_file()


def test_ci_workflow_builds_every_platform():
    import yaml
    flow = yaml.safe_load((ROOT / ".github" / "workflows" / "packaging.yml").read_text())
    assert {"linux", "windows", "macos"} <= set(flow["jobs"])
    text = (ROOT / ".github" / "workflows" / "packaging.yml").read_text()
    assert "packaging/t2vz.spec" in text and "smoke_test.sh" in text and "build_macos.sh" in text


def test_ci_keeps_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    run = (ROOT / ".ci" / "run").read_text()
    test_line = next(line for line in run.splitlines() if "python -m pytest" in line)
    assert test_line in readme


def test_models_folder_follows_the_platform_convention(firstrun, tmp_path, monkeypatch):
    monkeypatch.delenv("T2VZ_MODELS_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    if os.name == "posix" and firstrun.sys.platform != "darwin":
        assert firstrun.models_dir() == tmp_path / "data" / "t2vz" / "Models"
    monkeypatch.setenv("T2VZ_MODELS_DIR", str(tmp_path / "mine"))
    assert firstrun.models_dir() == tmp_path / "mine"


def test_models_are_found_in_the_hub_cache_and_the_models_folder(firstrun, tmp_path, monkeypatch):
    hub = tmp_path / "hub"
    (hub / "models--org--sd" / "snapshots" / "abc").mkdir(parents=True)
    (hub / "models--org--sd" / "snapshots" / "abc" / "model_index.json").write_text("{}")
    (hub / "models--org--textonly" / "snapshots" / "abc").mkdir(parents=True)
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    models = tmp_path / "Models"
    (models / "dreambooth").mkdir(parents=True)
    (models / "dreambooth" / "model_index.json").write_text("{}")
    (models / "style.safetensors").write_bytes(b"x")
    (models / "notes.txt").write_text("not a model")
    found = firstrun.find_models(models)
    assert [(m.kind, Path(m.name).name) for m in found] == [
        ("hub cache", "sd"), ("folder", "dreambooth"), ("single file", "style.safetensors")]
    assert found[0].name == "org/sd"
    empty = firstrun.first_run_report({"cuda_version": None}, tmp_path / "none")
    assert empty["offer_demo"]


def test_cuda_driver_check(firstrun):
    assert firstrun.cuda_check(None, driver=None).status == "cpu-bundle"
    assert firstrun.cuda_check("12.4", driver=None).status == "no-driver"
    old = firstrun.cuda_check("12.4", driver=(11, 4))
    assert old.status == "driver-too-old" and "525.60.13" in old.message and "12.4" in old.message
    assert firstrun.cuda_check("12.4", driver=(12, 2)).status == "ok"  # minor version compatibility
    assert firstrun.cuda_check("12.4", driver=(13, 0)).status == "ok"
