"""The models on this machine, and fetching known-good ones: `t2vz models list|download|remove|verify`.

What is installed is read from the Hugging Face cache (huggingface_hub.scan_cache_dir) and the
Models folder (engine/system.models_dir), and each model's kind from its own configuration files:
SD 1.x / SD 2.x / SDXL by the UNet's layout (SDXL's added text-time conditioning, SD 2's linear
projections in attention), a ControlNet, a VAE, Instruct-Pix2Pix (8 UNet input channels), a LoRA
(.safetensors whose keys name lora weights).

Downloads go through huggingface_hub's snapshot_download (resumable: an interrupted file is
continued with an HTTP Range request on the next try), into the ordinary cache, so every other
tool sees them. Only what a diffusers folder needs is fetched: configurations and .safetensors
weights (of the asked variant), never root-level single-file checkpoints beside a diffusers
folder, never pickle weights unless asked. Before anything is written the repository's file
list gives the size, and a download that would not fit on the disk is refused; a cancelled or
failed download leaves no partial model in the cache.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .model_settings import ModelError, is_sdxl_unet
from .system import models_dir

PICKLE = (".bin", ".ckpt", ".pt", ".pth", ".pkl")
CONFIGS = ("*.json", "*.txt", "*.model")  # configurations, tokenizer vocabularies and merges
SPARE_BYTES = 512 << 20  # keep this much free beyond the download


@dataclass(frozen=True)
class KnownModel:
    """A model the manager offers to download."""

    repo_id: str
    kind: str
    licence: str
    what: str
    variant: str | None = None  # the weights variant to fetch by default (fp16 halves the download)


CURATED = (
    KnownModel("stable-diffusion-v1-5/stable-diffusion-v1-5", "SD1", "CreativeML OpenRAIL-M",
               "Stable Diffusion 1.5, the paper's base model (text-to-video, ControlNet edits)", "fp16"),
    KnownModel("stabilityai/stable-diffusion-xl-base-1.0", "SDXL", "CreativeML OpenRAIL++-M",
               "SDXL base 1.0 (1024 px)", "fp16"),
    KnownModel("lllyasviel/sd-controlnet-canny", "ControlNet", "OpenRAIL", "edges-guided editing (--mode canny)"),
    KnownModel("lllyasviel/sd-controlnet-openpose", "ControlNet", "OpenRAIL", "pose-guided editing (--mode pose)"),
    KnownModel("lllyasviel/sd-controlnet-depth", "ControlNet", "OpenRAIL", "depth-guided editing (--mode depth)"),
    KnownModel("diffusers/controlnet-canny-sdxl-1.0", "ControlNet", "OpenRAIL++", "edges-guided editing with SDXL"),
    KnownModel("xinsir/controlnet-openpose-sdxl-1.0", "ControlNet", "Apache-2.0", "pose-guided editing with SDXL"),
    KnownModel("diffusers/controlnet-depth-sdxl-1.0", "ControlNet", "OpenRAIL++", "depth-guided editing with SDXL"),
    KnownModel("timbrooks/instruct-pix2pix", "Pix2Pix", "MIT", "instruction editing (--mode pix2pix)"),
    KnownModel("latent-consistency/lcm-lora-sdv1-5", "LoRA", "OpenRAIL++", "LCM-LoRA for SD 1.5: 4-8 steps"),
    KnownModel("madebyollin/sdxl-vae-fp16-fix", "VAE", "MIT", "SDXL VAE that does not overflow in fp16"),
)


@dataclass
class Installed:
    """One model on this machine."""

    name: str  # hub id, or the path of a folder or file
    where: str  # "hub cache" | "Models folder"
    kind: str
    bytes: int
    path: Path


@dataclass(frozen=True)
class Plan:
    """What a download will fetch."""

    repo_id: str
    revision: str  # the commit
    files: tuple[str, ...]
    bytes: int


class DownloadCancelled(Exception):
    """The user stopped a download; nothing of it is left in the cache."""


class HubFailure(ModelError):
    """Talking to the hub failed (no network, a server error, a transfer cut off): worth running
    again, so the CLI says "failed" and exits 1, where a wrong id or a pickle-only model is bad
    input (2)."""


# -------------------------------------------------------------------------- what is installed

def model_kind(folder: Path) -> str:
    """SD1 | SD2 | SDXL | Pix2Pix | ControlNet | VAE | LoRA | unknown, from a folder's or file's
    own configuration (no weights are read but a LoRA's key names)."""
    if folder.is_file():
        return "LoRA" if folder.suffix == ".safetensors" and _is_lora(folder) else (
            "checkpoint" if folder.suffix in (".safetensors", *PICKLE) else "unknown")
    config = _json(folder / "config.json")
    unet = _json(folder / "unet" / "config.json")
    if unet:
        if unet.get("in_channels") == 8:
            return "Pix2Pix"
        family = "SDXL" if is_sdxl_unet(unet) else (
            "SD2" if unet.get("use_linear_projection") else "SD1")
        return f"{family} LCM" if unet.get("time_cond_proj_dim") else family  # guidance-distilled
    name = str(config.get("_class_name", ""))
    if name.startswith("ControlNet"):
        return "ControlNet"
    if name.startswith("Autoencoder"):
        return "VAE"
    loras = [f for f in folder.glob("*.safetensors") if _is_lora(f)]
    return "LoRA" if loras else "unknown"


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        return {}


def _is_lora(path: Path) -> bool:
    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt") as f:
            return any("lora" in k.lower() for k in list(f.keys())[:64])
    except Exception:  # not a readable safetensors file
        return False


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def installed_models(folder: Path | None = None) -> list[Installed]:
    """Every model in the Hugging Face cache and in the Models folder, with kind and size."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    from .model_settings import demo_model_dir

    found: list[Installed] = []
    demo = demo_model_dir()
    if demo.is_dir():
        found.append(Installed("demo", "built in", model_kind(demo), _size(demo), demo))
    try:
        cache = scan_cache_dir()
    except CacheNotFound:
        cache = None
    for repo in sorted(cache.repos if cache else [], key=lambda r: r.repo_id):
        if repo.repo_type != "model" or not repo.revisions:
            continue
        newest = max(repo.revisions, key=lambda r: r.last_modified)
        found.append(Installed(repo.repo_id, "hub cache", model_kind(Path(newest.snapshot_path)), repo.size_on_disk,
                               Path(newest.snapshot_path)))
    folder = models_dir() if folder is None else folder
    if folder.is_dir():
        for item in sorted(folder.iterdir()):
            if item.is_dir() or item.suffix in (".safetensors", *PICKLE):
                found.append(Installed(str(item), "Models folder", model_kind(item), _size(item), item))
    return found


# -------------------------------------------------------------------------- downloads

def wanted(files: list[str], variant: str | None, allow_pickle: bool) -> list[str]:
    """The files of a repository that a diffusers model needs: configurations, and in each folder
    the weights of the asked variant where that folder has them, else its plain weights
    (.safetensors; pickle weights only where allowed and the folder has no safetensors). In a
    diffusers pipeline repository (model_index.json at the root) the root's own weights, which
    are single-file checkpoints of several GB, are left out."""
    pipeline = "model_index.json" in files

    def variant_of(name: str) -> str | None:
        parts = Path(name).name.split(".")
        return parts[-2] if len(parts) >= 3 else None

    chosen = [f for f in files if any(fnmatch.fnmatch(Path(f).name, p) for p in CONFIGS)]
    folders = sorted({str(Path(f).parent) for f in files})
    for folder in folders:
        if pipeline and folder == ".":
            continue
        here = [f for f in files if str(Path(f).parent) == folder]
        for suffixes in ((".safetensors",), PICKLE if allow_pickle else ()):
            weights = [f for f in here if suffixes and f.endswith(suffixes)]
            pick = [f for f in weights if variant is not None and variant_of(f) == variant] or \
                   [f for f in weights if variant_of(f) is None]
            if pick:
                chosen += pick
                break
    return chosen


def plan_download(repo_id: str, variant: str | None = None, allow_pickle: bool = False,
                  revision: str | None = None) -> Plan:
    """List the repository and decide what to fetch; ModelError (one line) when it cannot be:
    no such repository, no network, pickle-only weights, or not enough disk."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError
    from huggingface_hub.hf_api import RepoFile

    api = HfApi()
    try:
        info = api.repo_info(repo_id, revision=revision)
        entries = [f for f in api.list_repo_tree(repo_id, recursive=True, revision=info.sha) if isinstance(f, RepoFile)]
    except (RepositoryNotFoundError, RevisionNotFoundError) as e:
        raise ModelError(f"no model '{repo_id}' on the hub ({type(e).__name__})") from e
    except (HfHubHTTPError, OSError) as e:
        raise HubFailure(f"cannot reach the model hub to fetch '{repo_id}': {str(e).splitlines()[0]}") from e
    except Exception as e:  # httpx's connection errors (no network, no DNS) are not OSErrors
        from huggingface_hub import constants

        raise HubFailure(f"cannot reach the model hub ({constants.ENDPOINT}) to fetch '{repo_id}': is this machine "
                         f"online? ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from e
    sizes = {f.path: f.size for f in entries}
    files = wanted(sorted(sizes), variant, allow_pickle)
    if not any(f.endswith((".safetensors", *PICKLE)) for f in files):
        pickled = [f for f in sizes if f.endswith(PICKLE)]
        if pickled and not allow_pickle:
            raise ModelError(f"'{repo_id}' has only pickle weights ({pickled[0]}, ...), which can run code when "
                             "loaded; pass --allow-unsafe-pickle if you trust its source")
        raise ModelError(f"'{repo_id}' has no model weights that t2vz can use")
    total = sum(sizes[f] for f in files)
    free = shutil.disk_usage(_cache_root()).free
    if total + SPARE_BYTES > free:
        raise ModelError(f"'{repo_id}' needs {total / 2**30:.1f} GiB and the disk has {free / 2**30:.1f} GiB free")
    return Plan(repo_id, info.sha, tuple(files), total)


def _cache_root() -> Path:
    from huggingface_hub import constants

    root = Path(constants.HF_HUB_CACHE)
    root.mkdir(parents=True, exist_ok=True)
    return root


def download(plan: Plan, progress: Callable[[int, int], None] | None = None,
             cancelled: Callable[[], bool] = lambda: False) -> Path:
    """Fetch a planned download into the Hugging Face cache; returns the snapshot folder.
    `progress(done_bytes, total_bytes)` as bytes arrive; `cancelled()` polled as they do. On a
    cancel (DownloadCancelled) or an error (ModelError) the partly fetched files and the revision
    are removed, and the earlier content of the cache is kept."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError
    from tqdm.auto import tqdm

    done = {"bytes": 0}

    class Progress(tqdm):  # huggingface_hub reports bytes through a tqdm class; it draws nothing
        def __init__(self, *args, **kwargs):
            self.counts_bytes = kwargs.get("unit") == "B"
            super().__init__(*args, **{**kwargs, "disable": True})

        def update(self, n=1):
            if cancelled():
                raise DownloadCancelled(f"download of {plan.repo_id} cancelled")
            if self.counts_bytes and n:
                done["bytes"] += n
                if progress is not None:
                    progress(min(done["bytes"], plan.bytes), plan.bytes)
            return super().update(n)

    before = _revisions(plan.repo_id)
    try:
        folder = snapshot_download(plan.repo_id, revision=plan.revision, allow_patterns=list(plan.files),
                                   tqdm_class=Progress, max_workers=1)
    except DownloadCancelled:
        _clean(plan, before)
        raise
    except (HfHubHTTPError, OSError) as e:
        _clean(plan, before, keep_incomplete=True)  # an interrupted file is resumed on the next try
        raise HubFailure(f"download of '{plan.repo_id}' stopped: {str(e).splitlines()[0]} (run it again to resume)") from e
    missing = [f for f in plan.files if not (Path(folder) / f).is_file()]
    if missing:
        _clean(plan, before)
        raise ModelError(f"download of '{plan.repo_id}' is incomplete ({missing[0]} missing)")
    if progress is not None:
        progress(plan.bytes, plan.bytes)
    return Path(folder)


def _repo_folder(repo_id: str) -> Path:
    return _cache_root() / ("models--" + repo_id.replace("/", "--"))


def _revisions(repo_id: str) -> set[str]:
    snapshots = _repo_folder(repo_id) / "snapshots"
    return {p.name for p in snapshots.iterdir()} if snapshots.is_dir() else set()


def _clean(plan: Plan, before: set[str], keep_incomplete: bool = False) -> None:
    """Remove what a stopped download left: its new snapshot, the blobs only it pointed to, the
    partial files (unless kept for resuming), and the repository folder if it holds nothing else."""
    repo = _repo_folder(plan.repo_id)
    if not repo.is_dir():
        return
    if plan.revision not in before:
        shutil.rmtree(repo / "snapshots" / plan.revision, ignore_errors=True)
    used = {Path(p).resolve() for p in (repo / "snapshots").rglob("*") if p.is_symlink()} if (repo / "snapshots").is_dir() else set()
    for blob in (repo / "blobs").glob("*") if (repo / "blobs").is_dir() else []:
        partial = blob.name.endswith(".incomplete")
        if (partial and not keep_incomplete) or (not partial and blob.resolve() not in used):
            blob.unlink(missing_ok=True)
    if not before and not keep_incomplete:
        shutil.rmtree(repo, ignore_errors=True)
        shutil.rmtree(_cache_root() / ".locks" / repo.name, ignore_errors=True)


# -------------------------------------------------------------------------- remove and verify

def remove(repo_id: str) -> int:
    """Delete every revision of a cached model; the bytes freed. ModelError if it is not cached."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:
        cache = scan_cache_dir()
    except CacheNotFound:
        cache = None
    repo = next((r for r in (cache.repos if cache else []) if r.repo_id == repo_id and r.repo_type == "model"), None)
    if repo is None:
        folder = _repo_folder(repo_id)
        if not folder.is_dir():
            raise ModelError(f"'{repo_id}' is not in the Hugging Face cache (see `t2vz models list`)")
        # huggingface_hub's scan leaves out a repository it finds damaged (a snapshot link to a
        # missing blob): it is still on disk, and still the user's to delete
        freed = _size(folder)
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(_cache_root() / ".locks" / folder.name, ignore_errors=True)
        return freed
    strategy = cache.delete_revisions(*[r.commit_hash for r in repo.revisions])
    strategy.execute()
    shutil.rmtree(_repo_folder(repo_id), ignore_errors=True)  # refs and partial files too
    shutil.rmtree(_cache_root() / ".locks" / _repo_folder(repo_id).name, ignore_errors=True)
    return strategy.expected_freed_size


def verify(repo_id: str) -> list[str]:
    """Check every cached file of a model against the hash it is stored under (the cache names
    each blob by its content: SHA-256 for large files, git's blob SHA-1 for others); the names
    of the files that do not match. ModelError if the model is not cached."""
    repo = _repo_folder(repo_id)
    if not (repo / "snapshots").is_dir():
        raise ModelError(f"'{repo_id}' is not in the Hugging Face cache (see `t2vz models list`)")
    bad = []
    for link in sorted((repo / "snapshots").rglob("*")):
        if link.is_dir():
            continue
        name = str(link.relative_to(repo / "snapshots"))
        if not link.exists():  # a snapshot link whose blob is gone
            bad.append(f"{name} (missing)")
        elif not _matches(link.resolve()):
            bad.append(name)
    unfinished = list((repo / "blobs").glob("*.incomplete")) if (repo / "blobs").is_dir() else []
    if unfinished:
        bad.append(f"{len(unfinished)} unfinished download(s) (blobs/*.incomplete)")
    return bad


def cached_repo_ids() -> list[str]:
    """Every model repository folder in the Hugging Face cache, damaged ones included (the hub
    library's scan leaves those out), as owner/name."""
    from huggingface_hub import constants

    root = Path(constants.HF_HUB_CACHE)
    folders = sorted(root.glob("models--*--*")) if root.is_dir() else []
    return [f.name[len("models--"):].replace("--", "/", 1) for f in folders if f.is_dir()]


def _matches(blob: Path) -> bool:
    name = blob.name
    if len(name) == 64:  # an LFS file: its SHA-256
        h = hashlib.sha256()
        with open(blob, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest() == name
    if len(name) == 40:  # a regular git file: sha1("blob <size>\0" + content)
        data = blob.read_bytes()
        return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest() == name
    return True  # a name we cannot check
