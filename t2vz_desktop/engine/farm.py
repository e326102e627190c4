"""Render farm: a job's videos and chunks denoised as Ray tasks on a cluster (issue 28).

Text2Video-Zero's frames depend on one another only through the anchor (frame 0): its
trajectory is fixed by the recipe, and a chunk of frames made on its own with its anchor
(VideoPlan.frames_only) equals that chunk of the whole video. So a video is cut into chunks of
``chunk_size`` frames, one task each; every task recomputes the anchor, which on the paper's
settings costs one latent row per step besides the chunk's (RESULTS.md, "Render farm"), and
ships nothing but its result. A recipe whose frames also read other frames than the anchor
(prompt travel and an end image: several anchors; an attention window: the frames before;
DeepCache's fast mode, whose cache spans the call) runs as one task per video, and so do edits,
whose condition frames are made from the whole source range on the worker. A batch (several
prompts, seeds or videos per prompt) fans out one video at a time.

This computer loads the model as for a local job (it fills in the recipe, encodes the prompts
and any pinned image, and decodes the result); the workers load it from their own Hugging Face
cache or Models folder, and a worker that lacks it fails the job with that name, never by copying
gigabytes. Tasks that die with their worker are retried on another (Ray's task retries);
results come back as latents and go through the same decode and export as a local video.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
from dataclasses import fields, is_dataclass, replace
from functools import lru_cache
from pathlib import Path

import torch

from .cancel import Cancelled, CancelToken
from .chunks import chunk_bounds
from .compiled import is_ready, optimise, prepare, usable_cache, wants_compile
from .request import GenerationRequest, RequestError

DEFAULT_PORT = 6379  # `ray start --head`'s
RETRIES = 3  # re-runs of a task whose worker died (a Python error is not retried: it would fail again)
POLL_S = 0.25  # how often the driver looks at the tasks and the cancel button
INSTALL = "pip install 't2vz-desktop[farm]'"


class FarmError(RuntimeError):
    """The cluster failed the job (a worker died every try, the head went away); for the user."""


def need_ray():
    try:
        import ray
    except ImportError as e:
        raise RequestError(f"rendering on a cluster needs Ray on this computer: {INSTALL}") from e
    return ray


def parse_address(text: str) -> tuple[str, int] | None:
    """(host, port) of a Ray head written HOST[:PORT]; None for "auto" (this computer's cluster).
    RequestError for anything else."""
    text = text.strip()
    if text == "auto":
        return None
    host, _, port = text.rpartition(":") if ":" in text else (text, "", str(DEFAULT_PORT))
    if not host or not port.isdigit() or not 0 < int(port) < 65536 or "/" in host:
        raise RequestError(f"--cluster wants auto or the head's HOST:PORT (port {DEFAULT_PORT} by default), got '{text}'")
    return host, int(port)


def local_cluster_address() -> str | None:
    """The address of the cluster `ray start --head` left on this computer (RAY_ADDRESS first, as
    Ray reads it), or None."""
    if os.environ.get("RAY_ADDRESS"):
        return os.environ["RAY_ADDRESS"]
    marker = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
    try:
        return marker.read_text().strip() or None
    except OSError:
        return None


def check_cluster(address: str, timeout_s: float = 3.0) -> str:
    """The HOST:PORT to connect to, after checking that Ray is installed and that something
    listens there; one RequestError line otherwise. Costs a socket connect, before any model
    loads."""
    need_ray()
    where = parse_address(address)
    if where is None:
        found = local_cluster_address()
        if found is None:
            raise RequestError("no Ray cluster runs on this computer: start one with `ray start --head`, or give "
                               "--cluster HOST:PORT (docs/render-farm.md)")
        where = parse_address(found)
    host, port = where
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as e:
        raise RequestError(f"cannot reach the Ray cluster at {host}:{port} ({e.strerror or e}); is `ray start "
                           "--head` running there, and is the port open? (docs/render-farm.md)") from e
    return f"{host}:{port}"


def connect(address: str):
    """Ray, connected to the cluster at `address` (reusing this process's connection to it)."""
    ray = need_ray()
    target = check_cluster(address)
    if ray.is_initialized():
        if ray.get_runtime_context().gcs_address == target:
            return ray
        ray.shutdown()
    try:
        # "auto" is handed to Ray as such: only then does it use this computer's token (clusters
        # authenticate by default; for an explicit address the user turns the token on, as Ray asks).
        ray.init(address="auto" if address.strip() == "auto" else target, logging_level="ERROR", log_to_driver=False)
    except Exception as e:  # version mismatch, a port that is not a Ray head, no token: one line
        hint = "" if os.environ.get("RAY_AUTH_MODE") == "token" else (
            "; if the cluster uses token authentication (Ray's default), copy its ~/.ray/auth_token here "
            "and set RAY_AUTH_MODE=token (docs/render-farm.md)")
        raise RequestError(f"cannot join the Ray cluster at {target}: {_first_line(e)}{hint}") from e
    return ray


def test_connection(address: str) -> str:
    """One line on the cluster at `address` (nodes, GPUs, CPUs) for a Test connection button;
    RequestError when it cannot be reached."""
    ray = connect(address)
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    total = ray.cluster_resources()
    return (f"connected to {ray.get_runtime_context().gcs_address}: {len(nodes)} node(s), "
            f"{int(total.get('GPU', 0))} GPU(s), {int(total.get('CPU', 0))} CPU(s)")


def chunkable(recipe: GenerationRequest) -> bool:
    """Whether this recipe's frames depend on nothing but their anchor, so its chunks are tasks."""
    return (recipe.edit is None and not recipe.prompt_keys and recipe.end_image is None
            and recipe.attention_window == 0 and "cache" not in recipe.fast_modes and recipe.chunk_size > 0)


def plan_tasks(recipe: GenerationRequest) -> list[tuple[int, tuple[int, int] | None]]:
    """(video, frames [a, b) or None for the whole video) of every task, in frame order."""
    videos = len(recipe.prompts) * recipe.videos_per_prompt
    if not chunkable(recipe):
        return [(v, None) for v in range(videos)]
    return [(v, bounds) for v in range(videos) for bounds in chunk_bounds(recipe.frames, recipe.chunk_size)]


def moved(value, device: torch.device, dtype: torch.dtype | None = None):
    """A copy of a plan or text table with every tensor on `device` (float tensors cast to
    `dtype` when given); what a task ships and receives."""
    if isinstance(value, torch.Tensor):
        cast = dtype if dtype is not None and value.is_floating_point() else None
        return value.to(device=device, dtype=cast)
    if is_dataclass(value) and not isinstance(value, type):
        return replace(value, **{f.name: moved(getattr(value, f.name), device, dtype) for f in fields(value)
                                 if f.init})
    if isinstance(value, list):
        return [moved(v, device, dtype) for v in value]
    if isinstance(value, tuple):
        return tuple(moved(v, device, dtype) for v in value)
    return value


# --- On the workers ---------------------------------------------------------------------

@lru_cache(maxsize=1)
def _worker_cache():
    from .jobs import ModelCache

    return ModelCache()


def _worker_model(recipe: GenerationRequest):
    """The recipe's model on this worker, its own device chosen ("auto": the GPU Ray gave it)."""
    from .models import ModelError

    try:
        model, _ = _worker_cache().get(replace(recipe, device="auto"))
    except ModelError as e:
        raise ModelError(f"worker {socket.gethostname()} cannot load the model: {_first_line(e)} (each worker reads "
                         "models from its own Hugging Face cache or Models folder; the farm never copies weights)") from e
    return model


def denoise_task(recipe: GenerationRequest, text, plan, tracker, index: int) -> torch.Tensor:
    """One chunk (plan.frames_only) or one whole video, denoised on this worker.  # (frames, c, h, w)"""
    from .models import make_scheduler
    from .sampler import sample_video

    model = _worker_model(recipe)
    pipe = model.pipe
    device = pipe._execution_device
    tracker.start.remote(index, socket.gethostname(), os.getpid())
    compiled = wants_compile(recipe.speed, device) and usable_cache() is None
    prepare(pipe.unet, compiled, device)
    if compiled and not is_ready(pipe.unet, plan.latent_size):
        try:
            compiled = optimise(pipe.unet, plan.latent_size, lambda done, total: None, lambda: False)
        except Exception:  # noqa: BLE001 - as locally: no compiler, an unsupported GPU: eager
            prepare(pipe.unet, False, device)
    scheduler = make_scheduler(recipe.scheduler, pipe.scheduler.config)
    latents = sample_video(pipe.unet, scheduler, moved(text, device, pipe.unet.dtype), moved(plan, device), device,
                           lambda s: tracker.report.remote(index, s.step), previews=False)
    a, b = plan.frames_only or (0, plan.frames)
    return latents[a:b].float().cpu()


def edit_task(recipe: GenerationRequest, files: dict, tracker, index: int) -> torch.Tensor:
    """One edited video, made on this worker from the source shipped with it.  # (frames, c, h, w)"""
    from .jobs import ProgressEvent, run_generation

    tracker.start.remote(index, socket.gethostname(), os.getpid())
    with tempfile.TemporaryDirectory(prefix="t2vz-farm-") as folder:
        local = _localised(recipe, files, Path(folder))

        def on_event(e: ProgressEvent) -> None:
            if e.kind == "step":
                tracker.report.remote(index, e.step)

        result = run_generation(replace(local, device="auto"), on_event, cache=_worker_cache(), previews=False)
    return result.latents.float()


def _localised(recipe: GenerationRequest, files: dict, folder: Path) -> GenerationRequest:
    """The recipe reading each input file from this worker: the same path where it holds a file
    of the same size (a shared drive), else the shipped copy written to `folder`.
    `files`: {path: (size in bytes, ObjectRef of its bytes)}."""
    import ray

    found = {}
    for i, (path, (size, ref)) in enumerate(files.items()):
        if Path(path).is_file() and Path(path).stat().st_size == size:
            found[path] = path
            continue
        target = folder / f"{i}-{Path(path).name}"
        target.write_bytes(ray.get(ref))
        found[path] = str(target)
    e = recipe.edit
    controls = [replace(c, condition=found.get(c.condition, c.condition)) for c in e.controls]
    return replace(recipe, edit=replace(e, source=found.get(e.source, e.source), controls=controls))


def edit_inputs(recipe: GenerationRequest) -> list[str]:
    """The files an edit reads: its source and any ready condition videos."""
    e = recipe.edit
    return [e.source] + [c.condition for c in e.controls if c.condition]


class Tracker:
    """A Ray actor the tasks tell their progress; the driver reads it between waits."""

    def __init__(self, tasks: int):
        self.steps = [0] * tasks
        self.where: list[tuple[str, int] | None] = [None] * tasks

    def start(self, index: int, host: str, pid: int) -> None:
        self.steps[index] = 0  # a retried task counts again from its first step
        self.where[index] = (host, pid)

    def report(self, index: int, step: int) -> None:
        self.steps[index] = step

    def read(self) -> tuple[list[int], list]:
        return self.steps, self.where


def _first_line(e: BaseException) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
