"""Edit with...'s model: the Generate panel's picker (same list), a default that can run the chosen
mode (pix2pix: an Instruct-Pix2Pix UNet; ControlNet modes: a base the ControlNet fits), chosen
again when the mode changes, and a named fetch instead of a model that would fail."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from t2vz_desktop.engine.control import check_edit_model
from t2vz_desktop.engine.models import ModelError
from t2vz_desktop.engine.request import GenerationRequest
from test_app_creative import square_video
from test_app_fixtures import window  # noqa: F401 - the fixture


def instruct_folder(base: Path, tiny_folder: Path) -> Path:
    """A tiny Instruct-Pix2Pix model as its configuration and tokenizer files, with empty weight
    files (the checks read nothing else): tiny_folder's, with a UNet taking twice the latent channels."""
    folder = base / "tiny-pix2pix"
    shutil.copytree(tiny_folder / "tokenizer", folder / "tokenizer")
    for config in ("unet/config.json", "vae/config.json", "text_encoder/config.json", "scheduler/scheduler_config.json"):
        (folder / config).parent.mkdir(parents=True)
        shutil.copy(tiny_folder / config, folder / config)
    for weights in ("unet/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.safetensors",
                    "text_encoder/model.safetensors"):
        (folder / weights).touch()
    shutil.copy(tiny_folder / "model_index.json", folder / "model_index.json")
    config = json.loads((folder / "unet" / "config.json").read_text())
    (folder / "unet" / "config.json").write_text(json.dumps({**config, "in_channels": 8}))
    return folder


@pytest.fixture
def models(tmp_path, tiny_folder, monkeypatch):
    """A Models folder holding a tiny Instruct-Pix2Pix model, and an empty Hugging Face cache."""
    folder = tmp_path / "Models"
    folder.mkdir()
    monkeypatch.setenv("T2VZ_MODELS_DIR", str(folder))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    return folder


def open_dialog(window, tmp_path):
    window.import_files([square_video(tmp_path / "square.mp4")])
    dialog = window.edit_with(media_id=next(iter(window.doc.project.media)))
    dialog.prompt.setPlainText("make it snowy")
    return dialog


def items(picker) -> list[tuple[str, str]]:
    return [(picker.itemText(i), picker.itemData(i)) for i in range(picker.count())]


def test_the_engine_check_knows_which_model_runs_which_mode(tmp_path, tiny_folder, tiny_controlnet):
    pix2pix = instruct_folder(tmp_path, tiny_folder)
    check_edit_model("pix2pix", str(pix2pix))
    with pytest.raises(ModelError, match="pix2pix needs an Instruct-Pix2Pix model; the built-in demo model"):
        check_edit_model("pix2pix", "demo")
    check_edit_model("canny", str(tiny_folder), str(tiny_controlnet))
    with pytest.raises(ModelError, match="latent channels"):  # the ControlNet's UNet takes 4, this one 8
        check_edit_model("canny", str(pix2pix), str(tiny_controlnet))


def test_edit_with_offers_the_generate_panels_models(window, tmp_path, tiny_folder, models):
    instruct_folder(models, tiny_folder)
    window.panel.refresh_models()
    dialog = open_dialog(window, tmp_path)
    assert items(dialog.model) == items(window.panel.model)  # the same list, "Open model folder/file..." too
    assert ("tiny-pix2pix (Models folder)", str(models / "tiny-pix2pix")) in items(dialog.model)
    dialog.reject()


def test_the_default_model_follows_the_mode(window, tmp_path, tiny_folder, tiny_controlnet, models):
    pix2pix = instruct_folder(models, tiny_folder)
    window.panel.refresh_models()
    window.panel.set_model(str(tiny_folder))
    dialog = open_dialog(window, tmp_path)
    dialog.mode.setCurrentText("pix2pix")
    assert dialog.model.model_name() == str(pix2pix) and dialog.problem() == ""
    fields = dialog.request_fields()
    assert fields["model"] == str(pix2pix) and fields["edit"].instruct and fields["edit"].controls == []
    GenerationRequest(**fields).validate()
    dialog.mode.setCurrentText("canny")
    dialog.controlnet.setText(str(tiny_controlnet))  # the pix2pix model cannot take it: the panel's model can
    assert dialog.model.model_name() == str(tiny_folder) and dialog.problem() == ""
    dialog.mode.setCurrentText("depth")  # the same ControlNet fits the same model: the choice stays
    assert dialog.model.model_name() == str(tiny_folder)
    dialog.reject()


def test_with_no_model_for_the_mode_the_dialog_names_what_to_fetch(window, tmp_path, tiny_controlnet, models):
    window.panel.set_model("demo")
    dialog = open_dialog(window, tmp_path)
    # canny: the demo model's own ControlNet, shown as the default
    assert dialog.model.model_name() == "demo" and dialog.problem() == ""
    assert dialog.controlnet.placeholderText().endswith("controlnet-canny")
    dialog.mode.setCurrentText("depth")  # no depth ControlNet here, so the demo model is not offered
    assert dialog.model.model_name() is None
    assert "lllyasviel/sd-controlnet-depth" in dialog.error.text() and "stable-diffusion-v1-5" in dialog.error.text()
    dialog.mode.setCurrentText("pix2pix")
    assert dialog.model.model_name() is None
    assert "t2vz models download timbrooks/instruct-pix2pix" in dialog.error.text()
    dialog.accept()
    assert dialog.isVisible() and window.queue.pending == 0
    assert "timbrooks/instruct-pix2pix" in dialog.error.text()
    dialog.mode.setCurrentText("canny")
    dialog.controlnet.setText(str(tiny_controlnet))  # weights now, but made for another model family
    assert dialog.model.model_name() is None and "No model here fits this ControlNet" in dialog.error.text()
    dialog.reject()


def test_follow_motion_reaches_the_edit_and_is_on_by_default(window, tmp_path, tiny_folder, tiny_controlnet, models):
    window.panel.set_model(str(tiny_folder))
    dialog = open_dialog(window, tmp_path)
    dialog.controlnet.setText(str(tiny_controlnet))
    assert dialog.request_fields()["edit"].flow_guidance == 1.0  # the engine's default (DEFAULT_FLOW_GUIDANCE)
    dialog.flow.setValue(0.8)
    fields = dialog.request_fields()
    assert fields["edit"].flow_guidance == 0.8
    GenerationRequest(**fields).validate()
    dialog.reject()
