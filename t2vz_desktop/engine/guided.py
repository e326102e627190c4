"""Preparing a video-to-video job: read the source clip, make or read its condition frames, load
the ControlNets (or encode the source for Instruct-Pix2Pix), and pick the denoiser."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from ..media import AudioClip, MediaError
from .chunks import Denoiser
from .control import ControlInput, control_denoiser, load_controlnet, mode_controlnet
from .edit import instruct_denoiser, source_latents
from .models import LoadedModel
from .request import EditSpec, GenerationRequest, RequestError


@dataclass
class GuidedInputs:
    denoiser: Denoiser
    attention_models: list  # networks that get cross-frame attention: UNet (+ ControlNets)
    audio: AudioClip | None
    notes: list[str] = field(default_factory=list)


def open_clip(request: GenerationRequest, native_size: int):
    """The source frames the edit will use, sized for the model (short side = its native size)."""
    from ..conditions.source import SourceSpec, open_source

    e = request.edit
    spec = SourceSpec.of_edit(e, request.width, request.height, native_size)
    try:
        return open_source(spec), spec
    except (MediaError, ValueError) as err:
        raise RequestError(str(err)) from err


def _stack(frames, count: int, what: str) -> torch.Tensor:
    stacked = np.stack(list(frames))
    if len(stacked) != count:
        raise RequestError(f"{what} has {len(stacked)} frames in the chosen range, the source has {count}")
    return torch.from_numpy(stacked)  # (frames, H, W, 3) uint8, stays on the CPU


def condition_tensor(e: EditSpec, control, clip, spec) -> torch.Tensor:
    from dataclasses import replace

    from ..conditions import condition_frames
    from ..conditions.source import open_source

    try:
        if control.condition:  # a ready skeleton/depth video, framed like the source
            ready = open_source(replace(spec, path=control.condition, width=clip.size[0], height=clip.size[1]))
            return _stack(ready.iter_frames(), clip.frames, f"condition video {control.condition}")
        options = {"canny": {"low": e.canny_low, "high": e.canny_high}, "depth": {"model": e.depth_model}}
        return _stack(condition_frames(control.mode, clip, **options.get(control.mode, {})), clip.frames, "the condition")
    except (MediaError, ValueError) as err:
        raise RequestError(str(err)) from err


def source_audio(e: EditSpec, clip) -> AudioClip | None:
    """The source's sound over the edited range, when the edit keeps it and there is some."""
    if not (e.keep_audio and clip.has_audio):
        return None
    start, end = clip.time_range_s
    return AudioClip(clip.path, start, end)


def prepare_guided(
    recipe: GenerationRequest, model: LoadedModel, clip, spec, load_net: Callable[[str], torch.nn.Module],
) -> GuidedInputs:
    e = recipe.edit
    unet = model.pipe.unet
    device = model.pipe._execution_device
    audio = source_audio(e, clip)
    if e.instruct:
        latents = source_latents(model.pipe.vae, clip.iter_frames(), device)
        try:
            return GuidedInputs(instruct_denoiser(unet, latents), [unet], audio)
        except ValueError as err:
            raise RequestError(str(err)) from err
    controls = []
    for c in e.controls:
        net = load_net(c.model or mode_controlnet(c.mode, recipe.model, recipe.model_config, recipe.allow_unsafe_pickle))
        controls.append(ControlInput(net, condition_tensor(e, c, clip, spec), c.scale))
    return GuidedInputs(control_denoiser(unet, controls), [unet] + [c.net for c in controls], audio)


__all__ = ["GuidedInputs", "open_clip", "prepare_guided", "load_controlnet", "source_audio"]
