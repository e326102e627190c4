"""Suite-wide set-up: offline, headless, and tiny models built once per session."""

import os

# Set before diffusers/huggingface_hub/Qt are imported anywhere in the suite.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
import torch

import tiny_models

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory):
    """A tiny random SD 1.x model saved as a real diffusers folder."""
    return tiny_models.save_tiny_folder(tmp_path_factory.mktemp("models") / "tiny-sd")


@pytest.fixture(scope="session")
def tiny_single_file(tmp_path_factory):
    """The same weights as one LDM-format .safetensors file plus its configuration folder."""
    return tiny_models.save_tiny_single_file(tmp_path_factory.mktemp("single"))


@pytest.fixture(scope="session")
def model_cache():
    from t2vz_desktop.engine.jobs import ModelCache

    return ModelCache(capacity=3)
