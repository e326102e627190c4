"""What this machine and this installation offer, found in milliseconds without importing torch
or Qt (the app asks before its window shows; the CLI and the packaging smoke test ask too).

- `models_dir()`: the "Models" folder the user drops weights into and opens from the app.
- `find_models()`: Stable Diffusion weights in the Hugging Face cache and the Models folder.
- `bundle_info()`: what a packaged build holds (torch flavour, CUDA version), {} in a checkout.
- `cuda_check()`: is there an NVIDIA driver, and is it new enough for the torch in the bundle?
- `first_run_report()`: the above, as the few sentences a first-run dialog shows.

`python -m t2vz_desktop.engine.system` prints the report.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .paths import resources_dir

# Oldest NVIDIA driver that runs each CUDA major version (NVIDIA's CUDA toolkit release notes,
# "minor version compatibility": any 12.x build runs on a 525.60.13+ driver, and so on).
MIN_DRIVER = {11: "450.80.02", 12: "525.60.13", 13: "580.65.06"}
WEIGHT_SUFFIXES = (".safetensors",)


def models_dir() -> Path:
    """The user's Models folder: T2VZ_MODELS_DIR if set, else the platform's per-user data
    folder + t2vz/Models (Linux: $XDG_DATA_HOME or ~/.local/share; macOS: ~/Library/Application
    Support; Windows: %LOCALAPPDATA%). Not created here: the app creates it when it opens it."""
    if os.environ.get("T2VZ_MODELS_DIR"):
        return Path(os.environ["T2VZ_MODELS_DIR"]).expanduser()
    return _user_folder("XDG_DATA_HOME", Path(".local") / "share", "Application Support") / "t2vz" / "Models"


def _user_folder(xdg: str, linux_default: Path, macos: str) -> Path:
    """The platform's per-user folder of a kind: Linux $`xdg` or ~/`linux_default`, macOS
    ~/Library/`macos`, Windows %LOCALAPPDATA% (XDG Base Directory spec; Apple's File System
    Programming Guide)."""
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    if sys.platform == "darwin":
        return Path.home() / "Library" / macos
    return Path(os.environ.get(xdg) or Path.home() / linux_default)


def compile_cache_dir() -> Path:
    """Where compiled kernels are kept between launches: T2VZ_COMPILE_CACHE if set, else the
    platform's per-user cache folder + t2vz/compile (Linux: $XDG_CACHE_HOME or ~/.cache; macOS:
    ~/Library/Caches; Windows: %LOCALAPPDATA%). Deleting it costs one slow first run."""
    if os.environ.get("T2VZ_COMPILE_CACHE"):
        return Path(os.environ["T2VZ_COMPILE_CACHE"]).expanduser()
    return _user_folder("XDG_CACHE_HOME", Path(".cache"), "Caches") / "t2vz" / "compile"


@dataclass(frozen=True)
class FoundModel:
    name: str  # what to pass to --model / put in the model list
    kind: str  # "hub cache", "folder" or "single file"
    path: Path | None


def hub_cache_dir() -> Path:
    home = Path(os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface")
    return Path(os.environ.get("HF_HUB_CACHE") or home / "hub")


def find_models(models: Path | None = None) -> list[FoundModel]:
    """Diffusers models in the Hugging Face cache, then diffusers folders and .safetensors
    checkpoints in the Models folder (one level deep). Reads folder names only."""
    found = []
    hub = hub_cache_dir()
    if hub.is_dir():
        for folder in sorted(hub.glob("models--*--*")):
            if any((snap / "model_index.json").is_file() for snap in (folder / "snapshots").glob("*")):
                found.append(FoundModel(folder.name[len("models--"):].replace("--", "/", 1), "hub cache", None))
    models = models_dir() if models is None else models
    if models.is_dir():
        for entry in sorted(models.iterdir()):
            if entry.is_dir() and (entry / "model_index.json").is_file():
                found.append(FoundModel(str(entry), "folder", entry))
            elif entry.is_file() and entry.suffix.lower() in WEIGHT_SUFFIXES:
                found.append(FoundModel(str(entry), "single file", entry))
    return found


def bundle_info() -> dict:
    """resources/build_info.json, which packaging/build_linux.sh writes into a bundle: torch
    flavour and version, CUDA version. {} in a development checkout (there is no such file)."""
    try:
        info = json.loads((resources_dir() / "build_info.json").read_text())
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def installed_torch_cuda() -> str | None:
    """CUDA version the installed torch was built for ("12.8"), None for a CPU build; read from
    torch/version.py as text, because importing torch takes seconds."""
    import importlib.util
    import re

    try:
        spec = importlib.util.find_spec("torch")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    try:
        text = (Path(spec.origin).parent / "version.py").read_text()
    except OSError:
        return None
    match = re.search(r"^cuda\b[^=]*=\s*['\"]([0-9.]+)['\"]", text, re.MULTILINE)
    return match.group(1) if match else None


def describe_build(info: dict | None = None) -> str:
    """One line for Help > About: which torch this installation runs on."""
    info = bundle_info() if info is None else info
    if not info:
        try:
            from importlib.metadata import version

            torch_version = version("torch")
        except Exception:  # noqa: BLE001 - not installed: the engine will say so when asked
            torch_version = "not installed"
        return f"development checkout (torch {torch_version})"
    flavour = info.get("torch_flavour", "unknown")
    cuda = f", CUDA {info['cuda_version']}" if info.get("cuda_version") else ""
    return f"packaged build, {info.get('platform', '')}: torch {info.get('torch_version', '?')} ({flavour}{cuda})".replace(
        "build, :", "build:")


@dataclass
class CudaCheck:
    status: str  # "ok", "cpu-bundle", "no-driver", "driver-too-old"
    driver_cuda: tuple[int, int] | None = None  # highest CUDA version the driver runs
    driver_version: str | None = None  # e.g. "535.104.05", when it can be read
    bundle_cuda: str | None = None  # CUDA version torch in the bundle was built for
    message: str = ""
    details: dict = field(default_factory=dict)


def driver_cuda_version() -> tuple[int, int] | None:
    """(major, minor) CUDA version that the installed NVIDIA driver supports, from
    cuDriverGetVersion in libcuda; None when there is no driver (no GPU, or macOS)."""
    names = ["nvcuda.dll"] if sys.platform == "win32" else ["libcuda.so.1", "libcuda.so"]
    for name in names:
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        version = ctypes.c_int(0)
        if lib.cuDriverGetVersion(ctypes.byref(version)) == 0 and version.value > 0:
            return version.value // 1000, (version.value % 1000) // 10
    return None


def driver_version_string() -> str | None:
    try:
        text = Path("/proc/driver/nvidia/version").read_text()
    except OSError:
        return None
    for word in text.split():
        parts = word.split(".")
        if len(parts) >= 2 and all(p.isdigit() for p in parts):
            return word
    return None


def cuda_check(bundle_cuda: str | None, driver: tuple[int, int] | None | str = "detect") -> CudaCheck:
    """Can the torch in this bundle use the GPU? `bundle_cuda` is build_info's cuda_version
    (None for a CPU bundle). `driver` is for tests; by default the installed driver is asked."""
    if driver == "detect":
        driver = driver_cuda_version()
    version = driver_version_string() if driver else None
    if bundle_cuda is None:
        msg = "This installation's torch is a CPU build: videos are made on the processor (slow)."
        if driver:
            msg += " An NVIDIA driver is installed: a CUDA build of torch would use the GPU."
        return CudaCheck("cpu-bundle", driver, version, None, msg)
    need_major, need_minor = (int(x) for x in bundle_cuda.split(".")[:2])
    if not driver:
        return CudaCheck("no-driver", None, None, bundle_cuda,
                         "No NVIDIA GPU driver was found, so videos are made on the processor (slow). "
                         "Install the NVIDIA driver, or try the built-in demo model, which is small enough for a CPU.")
    if driver[0] < need_major:
        oldest = MIN_DRIVER.get(need_major, f"one for CUDA {need_major}.x")
        have = f"driver {version}" if version else "the installed driver"
        return CudaCheck("driver-too-old", driver, version, bundle_cuda,
                         f"The NVIDIA {have} supports CUDA up to {driver[0]}.{driver[1]}, but this build of "
                         f"t2vz-desktop needs CUDA {need_major}.{need_minor} (driver {oldest} or newer). Update "
                         "the NVIDIA driver; until then videos are made on the processor.")
    return CudaCheck("ok", driver, version, bundle_cuda,
                     f"NVIDIA driver for CUDA {driver[0]}.{driver[1]}; the bundle's torch uses CUDA {bundle_cuda}.")


def first_run_report(info: dict | None = None, models: Path | None = None) -> dict:
    """What a first-run dialog needs: the GPU verdict, the weights found, and whether to offer
    the built-in demo model (no usable GPU, or no Stable Diffusion weights)."""
    info = bundle_info() if info is None else info
    gpu = cuda_check(info.get("cuda_version") if info else installed_torch_cuda())
    found = find_models(models)
    offer_demo = gpu.status != "ok" or not found
    lines = [gpu.message]
    if not found:
        lines.append(f"No Stable Diffusion weights were found in the Hugging Face cache ({hub_cache_dir()}) "
                     f"or in the Models folder ({models_dir() if models is None else models}). Put a diffusers "
                     "folder or a .safetensors file there, or start with the built-in demo model.")
    return {"gpu": gpu.status, "models": [m.name for m in found], "offer_demo": offer_demo,
            "message": "\n\n".join(lines)}


if __name__ == "__main__":
    print(json.dumps(first_run_report(), indent=2))
