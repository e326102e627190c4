"""Render farm: a job's videos and chunks denoised as Ray tasks on a cluster (issue 28).

Text2Video-Zero's frames depend on one another only through the anchor (frame 0): its
trajectory is fixed by the recipe, and a chunk of frames made on its own with its anchor
(VideoPlan.frames_only) equals that chunk of the whole video. So a video is cut into chunks of
``chunk_size`` frames, one task each; every task recomputes the anchor, which on the paper's
settings costs one latent row per step besides the chunk's (RESULTS.md, "Render farm"), and
ships nothing but its result. A recipe whose frames also read other frames than the anchor
(prompt travel and an end image: several anchors; an attention window: the frames before;
the fast modes, whose cache and token matches span the call) runs as one task per video, and so do edits,
whose condition frames are made from the whole source range on the worker. A batch (several
prompts, seeds or videos per prompt) fans out one video at a time.

This computer loads the model as for a local job (it fills in the recipe, encodes the prompts
and any pinned image, and decodes the result); the workers load it from their own Hugging Face
cache or Models folder, and a worker that lacks it fails the job with that name, never by copying
gigabytes. Tasks that die with their worker are retried on another (Ray's task retries);
results come back as latents and go through the same decode and export as a local video.
"""

from __future__ import annotations

import socket
import tempfile
from dataclasses import fields, is_dataclass, replace
from functools import lru_cache
from pathlib import Path

import torch

from .chunks import chunk_bounds
from .request import GenerationRequest, first_line

RETRIES = 3  # re-runs of a task whose worker died (a Python error is not retried: it would fail again)
POLL_S = 0.25  # how often the driver looks at the tasks and the cancel button


class FarmError(RuntimeError):
    """The cluster failed the job (a worker died every try, the head went away); for the user."""


def chunkable(recipe: GenerationRequest) -> bool:
    """Whether this recipe's frames depend on nothing but their anchor, so its chunks are tasks."""
    # DeepCache's cache and token merging's matches span the whole UNet call, so a chunk made
    # alone differs from it (merging: 2.5% of the latents' range, tests/test_chunk_tasks.py).
    return (recipe.edit is None and not recipe.prompt_keys and recipe.end_image is None
            and recipe.attention_window == 0 and not recipe.fast_modes and recipe.chunk_size > 0)


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
        raise ModelError(f"worker {socket.gethostname()} cannot load the model: {first_line(e)} (each worker reads "
                         "models from its own Hugging Face cache or Models folder; the farm never copies weights)") from e
    return model


def denoise_task(recipe: GenerationRequest, text, plan, tracker, slot: tuple[str, int]) -> torch.Tensor:
    """One chunk (plan.frames_only) or one whole video, denoised on this worker.  # (frames, c, h, w)"""
    from .jobs import ready_unet
    from .models import make_scheduler
    from .sampler import sample_video

    model = _worker_model(recipe)
    pipe = model.pipe
    device = pipe._execution_device
    tracker.report.remote(slot, 0)
    ready_unet(model, recipe.speed, plan.latent_size, lambda e: None, None)  # compiled as a local job would be
    scheduler = make_scheduler(recipe.scheduler, pipe.scheduler.config)
    latents = sample_video(pipe.unet, scheduler, moved(text, device, pipe.unet.dtype), moved(plan, device), device,
                           lambda s: tracker.report.remote(slot, s.step), previews=False)
    a, b = plan.frames_only or (0, plan.frames)
    return latents[a:b].float().cpu()


def edit_task(recipe: GenerationRequest, files: dict, tracker, slot: tuple[str, int]) -> torch.Tensor:
    """One edited video, made on this worker from the source shipped with it.  # (frames, c, h, w)"""
    from .jobs import ProgressEvent, run_generation

    tracker.report.remote(slot, 0)
    with tempfile.TemporaryDirectory(prefix="t2vz-farm-") as folder:
        local = _localised(recipe, files, Path(folder))

        def on_event(e: ProgressEvent) -> None:
            if e.kind == "step":
                tracker.report.remote(slot, e.step)

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
