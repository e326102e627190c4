"""Suite-wide set-up: offline, headless, and tiny models built once per session."""

import os

# Set before diffusers/huggingface_hub/Qt are imported anywhere in the suite.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("T2VZ_SOUND", "off")  # playback and scrubbing stay silent on a machine with speakers
# Compiled kernels of the tests' tiny models are kept between runs, as ccache keeps objects, in a
# folder of their own (never the app's own compile cache): a cold compile of the tiny UNet took
# 122 s here, warm 17 s. Inductor keys its cache by graph, torch and settings.
# test_compiled.py gives its jobs a fresh folder around this one's kernels, to see a first compile.
if "T2VZ_COMPILE_CACHE" not in os.environ:
    from t2vz_desktop.engine.system import compile_cache_dir  # no torch: the platform's cache/t2vz/compile

    os.environ["T2VZ_COMPILE_CACHE"] = str(compile_cache_dir().parents[1] / "t2vz-tests" / "compile")

import pytest
import torch

import tiny_models

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Under pytest-xdist each worker gets one core, so that two workers do not ask two cores for
    # four OpenMP threads. The CLI processes the tests start inherit it.
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
else:
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


# The files whose tests take longest, longest first (seconds of one core, 2026-12-06). Under
# pytest-xdist a file runs whole on one worker (`--dist loadfile`), and handing out the longest
# first keeps both workers busy to the end instead of leaving one file running alone.
LONGEST_FIRST = ("test_demo_model.py", "test_compiled.py", "test_engine.py", "test_benchmarks.py", "test_farm.py",
                 "test_demo_training.py", "test_demo_controlnet.py", "test_golden.py", "test_mp4_reproducible.py",
                 "test_sdxl.py", "test_overflow.py", "test_media_zoo.py", "test_chunk_tasks.py", "test_edit.py")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory):
    """A tiny random SD 1.x model saved as a real diffusers folder."""
    return tiny_models.save_tiny_folder(tmp_path_factory.mktemp("models") / "tiny-sd")


@pytest.fixture(scope="session")
def tiny_single_file(tmp_path_factory):
    """The same weights as one LDM-format .safetensors file plus its configuration folder."""
    return tiny_models.save_tiny_single_file(tmp_path_factory.mktemp("single"))


@pytest.fixture(scope="session")
def tiny_controlnet(tmp_path_factory, tiny_folder):
    """A tiny random ControlNet made from tiny_folder's UNet, saved as a diffusers folder."""
    from diffusers import ControlNetModel, UNet2DConditionModel

    unet = UNet2DConditionModel.from_pretrained(tiny_folder / "unet")
    net = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(8, 16))
    tiny_models.randomize_(net, 99)  # from_unet zero-initialises the outputs: make them matter
    path = tmp_path_factory.mktemp("cn") / "controlnet"
    net.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def model_cache():
    from t2vz_desktop.engine.jobs import ModelCache

    return ModelCache(capacity=3)


def media_zoo_dir():
    """The team's real-footage files: ../shared/media-zoo beside the checkout, as CI lays it out
    (T2VZ_MEDIA_ZOO overrides, for a worktree elsewhere)."""
    from pathlib import Path

    override = os.environ.get("T2VZ_MEDIA_ZOO")
    return Path(override) if override else Path(__file__).resolve().parents[2] / "shared" / "media-zoo"


@pytest.fixture(scope="session")
def media_zoo():
    """Folder of ../shared/media-zoo (see its MANIFEST.md for what a correct tool gives)."""
    folder = media_zoo_dir()
    if not (folder / "MANIFEST.md").is_file():
        pytest.skip(f"the shared media zoo is not at {folder} (set T2VZ_MEDIA_ZOO)")
    return folder
