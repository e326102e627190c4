"""The Text2Video-Zero denoising loop (ALGORITHM.md sections 1-2), step by step.

Frame 0 of each video is an ordinary Stable Diffusion sample. It is denoised alone down to T',
warped by the motion field to make the other frames, which are re-noised back to T; then all
frames are denoised together from T, every frame attending to its video's frame 0.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable

import torch

from .attention import FrameBatch, install_cross_frame_attention, restore_attention
from .background import SubjectMaps, blend_background, install_probes
from .cancel import Cancelled, CancelToken
from .chunks import Conditioning, Denoiser, VideoLayout, predict_noise, unet_denoiser
from .motion import key_warp
from .noise_schedule import estimate_x0, expand_history, motion_steps, noise_scale, noised, renoise, snapshot
from .seeds import frame_generators, randn_per_frame, shuffled_windows


@dataclass(frozen=True)
class VideoPlan:
    """Everything the loop needs besides the model, in latent units."""

    frames: int
    seeds: list[int]  # one per video; video v's frame 0 uses seeds[v] as diffusers would
    latent_size: tuple[int, int]  # (h, w) in latent pixels
    steps: int
    shift_per_frame: tuple[float, float]  # (dx, dy) in latent pixels per frame
    t_restart: int = 941  # T
    t_warp: int = 881  # T'
    chunk_size: int = 0  # frames per UNet call; 0 = all at once
    cross_frame: bool = True
    attention_window: int = 0  # earlier frames each frame attends to besides the anchor
    noise_window: int = 0  # > 0: FreeNoise-style re-use of the first window's noise
    camera: torch.Tensor | None = None  # per-frame camera (frames, 3, 3) in latent pixels; replaces the shift
    fill: str = "reflect"  # what a shift brings into view: "reflect" (mirror) or "noise" (fresh noise at T)
    init_image: torch.Tensor | None = None  # image-to-video: frame 0's scaled latent (c, h, w), pinned
    end_image: torch.Tensor | None = None  # and the last frame's (keys must then be (0, frames - 1))
    between: torch.Tensor | None = None  # with end_image: every frame's clean start (frames, c, h, w), see between.py
    between_in_view: torch.Tensor | None = None  # where `between` shows known content (frames, 1, h, w); None: all
    keys: tuple[int, ...] = (0,)  # anchor frames; prompt travel keys several (text then per frame)
    key_seeds: tuple[int | None, ...] = (None,)  # per key: its own seed, or None to share frame 0's noise
    background: float = 0.0  # > 0: background smoothing strength (paper section 3.3)
    subject_tokens: list[list[int]] | None = None  # per video: prompt positions of the subject
    subject_mask: str = "attention"  # "refined": the anchor's predicted latent draws the mask's outline
    subject_layers: tuple[str, ...] | None = None  # cross-attention layers to read (None: the low-resolution ones)
    # "motion": the paper's motion dynamics. "shared": every frame starts from frame 0's noise
    # and all are denoised together from the first step, as the official guided modes do (the
    # condition video carries the motion).
    init: str = "motion"

    @property
    def videos(self) -> int:
        return len(self.seeds)


@dataclass(frozen=True)
class StepState:
    """Handed to the callback after every denoising step (k-diffusion style)."""

    step: int  # 1-based count of UNet steps done, over both phases
    total: int
    timestep: int
    phase: str  # "anchor": frame 0 alone, before T'; "video": all frames, from T
    denoised: torch.Tensor | None  # x0 estimate of every frame (None: previews off)  # (videos * frames, c, h, w)
    subject_mask: torch.Tensor | None = None  # background smoothing's foreground  # (videos * frames, h, w)


def _step_kwargs(scheduler, generators) -> dict:
    return {"generator": generators} if "generator" in inspect.signature(scheduler.step).parameters else {}


@torch.no_grad()
def sample_video(
    unet,
    scheduler,
    text: Conditioning,
    plan: VideoPlan,
    device: torch.device,
    callback: Callable[[StepState], None] | None = None,
    cancel: CancelToken | None = None,
    denoiser: Denoiser | None = None,
    attention_models: list | None = None,
    previews: bool = True,
) -> torch.Tensor:
    """Denoised latents of every frame of every video.  # (videos * frames, c, h, w)

    With `previews` off the callback still counts the steps but gets no x0 estimate or mask
    (each costs work and, on a GPU, a wait for the step to finish).

    `denoiser` replaces the plain UNet call in guided modes (ControlNet, Instruct-Pix2Pix);
    `attention_models` are the networks that get cross-frame attention (default: the UNet).
    """
    m, v = plan.frames, plan.videos
    c = unet.config.out_channels  # latent channels; an Instruct-Pix2Pix UNet takes 8 in
    denoiser = denoiser or unet_denoiser(unet)
    h, w = plan.latent_size
    scheduler.set_timesteps(plan.steps, device=device)
    ts = scheduler.timesteps
    at = motion_steps(ts, plan.t_restart, plan.t_warp)
    total = len(ts) if plan.init == "shared" else at.warp + (len(ts) - at.restart)
    if plan.init_image is not None and plan.init == "motion":
        total = len(ts) - at.restart
    generators = [frame_generators(seed, m) for seed in plan.seeds]  # [video][frame]
    keys, n_keys = plan.keys, len(plan.keys)
    video = VideoLayout(v, m, keys)
    anchor_gens = [gens[key] for gens in generators for key in keys]  # anchors: video-major, key order
    # Every frame starts as a warp of the anchor of the last key at or before it.
    key_of_frame = [video.anchor_of(k) for k in range(m)]
    travel = n_keys > 1
    cond_rows = torch.arange(v * m, device=device) if travel else None
    key_rows = torch.tensor([i * m + key for i in range(v) for key in keys], device=device)  # video-major, key order
    anchor_rows = key_rows if travel else None
    smoothing = plan.background > 0 and plan.init == "motion" and plan.subject_tokens is not None
    frames = FrameBatch(window=plan.attention_window) if plan.cross_frame or smoothing else None
    maps = None
    if smoothing:
        maps = SubjectMaps({text.text_branch * v + i: t for i, t in enumerate(plan.subject_tokens)}, (h, w),
                           refine=plan.subject_mask == "refined")
    done = 0

    warp = key_warp(plan.frames, v, keys, key_of_frame, plan.shift_per_frame, plan.camera, plan.fill, device)

    def spread(anchors: torch.Tensor) -> torch.Tensor:
        return warp(anchors)[0]

    pinned = None
    if plan.init_image is not None:
        # Image-to-video: frame 0 is the user's image at every step, noised to that step with
        # one fixed noise (re-noising to T' alone would keep too little of it); an end image
        # pins the last frame the same way, as the anchor of a second key.
        pinned_noise = randn_per_frame(anchor_gens, (c, h, w), device, torch.float32)
        images = [plan.init_image] + ([] if plan.end_image is None else [plan.end_image])
        if len(images) != n_keys:
            raise ValueError(f"{len(images)} pinned image(s) for {n_keys} key(s)")
        image = torch.stack(images).to(device, torch.float32).repeat(v, 1, 1, 1)  # (videos * keys, c, h, w)

        def pinned(i: int) -> torch.Tensor:
            if i >= len(ts):
                return image.clone()
            return noised(scheduler, image, pinned_noise, i)

    def step(i: int, x: torch.Tensor, layout: VideoLayout, gens: list, phase: str) -> torch.Tensor:
        nonlocal done
        if cancel is not None and cancel.cancelled:
            raise Cancelled()
        t = ts[i]
        pins = slice(None) if phase == "anchor" else key_rows
        if pinned is not None:
            x = x.clone()
            x[pins] = pinned(i)
        model_input = scheduler.scale_model_input(x, t).to(unet.dtype)
        rows = anchor_rows if phase == "anchor" else cond_rows
        out = predict_noise(denoiser, model_input, t, layout, text, plan.chunk_size, frames, rows).float()
        done += 1
        x0 = estimate_x0(scheduler, x, out, i) if callback is not None and previews else None
        if maps is not None and maps.refine:
            # The anchors' predicted clean latents, where the mask's outline comes from (the
            # estimate is per row, so the preview's, when there is one, already holds them).
            # Anchor rows are video-major in key order: each video's first key is every n_keys-th.
            rows_of = (lambda y: y[::n_keys]) if phase == "anchor" else (lambda y: y[::m])
            anchors = rows_of(x0) if x0 is not None else estimate_x0(scheduler, rows_of(x), rows_of(out), i)
            maps.latents = {text.text_branch * v + j: anchors[j] for j in range(v)}
        if x0 is not None:
            callback(StepState(done, total, int(t), phase, spread(x0) if phase == "anchor" else x0, subject_masks()))
        elif callback is not None:
            callback(StepState(done, total, int(t), phase, None))
        x = scheduler.step(out, t, x, **_step_kwargs(scheduler, gens), return_dict=False)[0]
        if pinned is not None:
            x[pins] = pinned(i + 1)
        if maps is not None and phase == "video":
            x = smooth_background(x)
        return x

    def subject_masks() -> torch.Tensor | None:
        """Frame 0's foreground mask, warped to every frame.  # (rows, 1, h, w)"""
        found = [maps.mask(text.text_branch * v + i) for i in range(v)] if maps is not None else [None]
        if any(mk is None for mk in found):
            return None
        return spread(torch.stack(found)[:, None].to(device))

    def smooth_background(x: torch.Tensor) -> torch.Tensor:
        """Pull each later frame's background toward the warped anchor (paper section 3.3)."""
        masks = subject_masks()
        if masks is None:
            return x
        anchor_warped = spread(x[::m])
        later = torch.arange(v * m, device=x.device) % m != 0
        x = x.clone()
        x[later] = blend_background(x[later], anchor_warped[later], masks[later], plan.background)
        return x

    nets = (attention_models or [unet]) if plan.cross_frame else []
    previous = [install_cross_frame_attention(net, frames, prefix=f"{i}:") for i, net in enumerate(nets)]
    if maps is not None:
        previous.append(install_probes(unet, frames, maps, plan.subject_layers))
        nets = nets + [unet]
    try:
        # 1. x_T^0 ~ N(0, I), the anchor of each video only.
        x = randn_per_frame(anchor_gens, (c, h, w), device, torch.float32) * scheduler.init_noise_sigma
        if travel:  # later keys share frame 0's noise (a steady layout) unless they have a seed
            x = x.view(v, n_keys, c, h, w)
            for j, seed in enumerate(plan.key_seeds):
                if j and seed is None:
                    x[:, j] = x[:, 0]
                elif j:
                    own = torch.Generator("cpu").manual_seed(seed)
                    x[:, j] = torch.randn((c, h, w), generator=own).to(device) * scheduler.init_noise_sigma
            x = x.reshape(v * n_keys, c, h, w)
        every_frame = [g for gens in generators for g in gens]
        if plan.init == "shared":
            # Guided modes: one noise for all frames, all denoised together from the start.
            x = x.repeat_interleave(m, dim=0)
            for i in range(len(ts)):
                x = step(i, x, video, every_frame, "video")
            return x
        # 2. Denoise the anchors alone down to T', keeping their latent (and the sampler's and
        #    the random streams' state) at T, where they restart.
        anchors = VideoLayout(v * n_keys, 1)
        if pinned is not None:  # the anchor is the image: nothing to denoise
            at_t = (pinned(at.restart), snapshot(scheduler), [g.get_state() for g in anchor_gens])
            x = pinned(at.warp)
        for i in range(0 if pinned is None else at.warp, at.warp):
            if i == at.restart:
                at_t = (x.clone(), snapshot(scheduler), [g.get_state() for g in anchor_gens])
            x = step(i, x, anchors, anchor_gens, "anchor")
        x_anchor_t, scheduler, rng_states = at_t
        # 3. x~_{T'}^k = W_k(x_{T'}^0): the anchor, translated by k * (dx, dy) (or moved by the camera).
        warped, in_view = warp(x)
        if plan.between is not None:
            # An end image: the frames between start from the two images' dissolve (each moved
            # by the motion from its own key), under frame 0's noise moved as W_k moves it.
            warped = noised(scheduler, plan.between.to(device).repeat(v, 1, 1, 1), warp(pinned_noise)[0], at.warp)
            in_view = None if plan.between_in_view is None else plan.between_in_view.to(device).repeat(v, 1, 1, 1)
        # 4. Re-noise T' -> T with the DDPM forward process; frame 0 restarts from its own x_T.
        later = [g for gens in generators for k, g in enumerate(gens) if k not in keys]
        noise = randn_per_frame(later, (c, h, w), device, torch.float32)
        if plan.noise_window:
            noise = torch.cat([shuffled_windows(n, plan.noise_window, seed) for n, seed in
                               zip(noise.split(m - n_keys), plan.seeds)])
        is_anchor = torch.tensor([k in keys for _ in range(v) for k in range(m)], device=device)
        x = torch.empty_like(warped)
        x[~is_anchor] = renoise(scheduler, warped[~is_anchor], noise, at)
        if in_view is not None:
            # What enters the view has no content yet: fresh noise at T, not stretched borders.
            fresh = randn_per_frame(later, (c, h, w), device, torch.float32) * noise_scale(scheduler, at.restart)
            x[~is_anchor] = in_view[~is_anchor] * x[~is_anchor] + (1 - in_view[~is_anchor]) * fresh
        x[is_anchor] = x_anchor_t
        for g, state in zip(anchor_gens, rng_states):
            g.set_state(state)
        expand_history(scheduler, spread)
        # 5. Denoise all frames together from T, with cross-frame attention (between two keys,
        #    to both keys' anchors, blended by position).
        for i in range(at.restart, len(ts)):
            x = step(i, x, video, every_frame, "video")
        return x
    finally:
        for net, old in reversed(list(zip(nets, previous))):
            restore_attention(net, old)

