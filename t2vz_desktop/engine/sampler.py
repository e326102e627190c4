"""The Text2Video-Zero denoising loop (ALGORITHM.md sections 1-2; Khachatryan et al., ICCV 2023,
sections 3.1-3.2), step by step.

Frame 0 of each video is an ordinary Stable Diffusion sample. It is denoised alone down to T',
warped by the motion field to make the other frames, which are re-noised back to T; then all
frames are denoised together from T, every frame attending to its video's frame 0.

How the options join the loop. `sample_video` names the method's five steps and nothing else;
each option (prompt travel's key seeds, pinned start/end images, the end image's dissolve,
background smoothing, noise windows, fresh noise where the motion uncovers the frame, previews)
is an `options.Option` in its own file that hooks fixed points of the loop (options.py lists
them) and passes everything else through. `options_for` below is the one registration: a new
option is its own file plus one line there, and the loop does not change. What is not a hook is
set-up: the camera path is part of W_k (motion.key_warp), the attention window part of the
cross-frame attention (attention.FrameBatch), the guided modes' shared noise a second short path
through the same steps (plan.init == "shared"). Composition rather than subclassing keeps the
loop one screen long and each option testable alone; the hooks are plain methods, so their order
is the registration's.
"""

from __future__ import annotations

import inspect
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

import torch

from .attention import FrameBatch, install_cross_frame_attention, restore_attention
from .background import BackgroundSmoothing
from .between import EndImageDissolve
from .cancel import Cancelled, CancelToken
from .chunks import Conditioning, Denoiser, VideoLayout, predict_noise, unet_denoiser
from .feature_cache import FeatureCaching
from .fill import EnteringNoise
from .finite import NonFinite, dtype_name, finite_per_video
from .motion import key_warp
from .noise_schedule import MotionSteps, expand_history, renoise, scheduler_motion_steps, snapshot
from .options import ANCHOR, VIDEO, Option, Options, Run
from .pinned import PinnedImages
from .flow_guidance import DEFAULT_STEPS_SHARE, FlowFusion, SourceFlow
from .preview import Previews
from .seeds import NoiseWindow, frame_generators, randn_per_frame
from .step_noise import SharedStepNoise
from .travel import KeySeeds


CHECK_EVERY = 10  # steps between reads of the finite flag when nothing else waits for the device


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
    # Flow-guided editing (flow_guidance.py): each frame's x0 fused with the previous one's along
    # the source's flow, at this strength, during this share of the steps.
    source_flow: SourceFlow | None = None
    flow_guidance: float = 0.0
    flow_steps: float = DEFAULT_STEPS_SHARE
    feature_cache: int = 0  # > 0: full UNet calls every this many steps, the shallow branch between (DeepCache)
    token_merge: float = 0.0  # > 0: share of each frame group's tokens merged in cross-frame attention (ToMe)
    shared_step_noise: bool = False  # every frame draws its sampler's step noise as its anchor does (step_noise.py)
    # Make only frames [a, b) of every video (and their anchors), as in the whole video; the
    # other frames' latents come back as garbage. A chunk of a long video as its own task.
    frames_only: tuple[int, int] | None = None

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
    """Text2Video-Zero sampling (ALGORITHM.md section 1): denoised latents of every frame of
    every video.  # (videos * frames, c, h, w)

    `callback` gets a StepState after every UNet step; with `previews` off it still counts the
    steps but gets no x0 estimate or mask (each costs work and, on a GPU, a wait for the step).
    `denoiser` replaces the plain UNet call in guided modes (ControlNet, Instruct-Pix2Pix);
    `attention_models` are the networks that get cross-frame attention (default: the UNet).
    """
    run = start_run(unet, scheduler, text, plan, device, previews and callback is not None)
    options = options_for(run)
    ts, at, keys = run.timesteps, run.at, plan.keys
    with cross_frame_attention(run, unet, attention_models, options) as frames:
        steps = Steps(run, options, frames, denoiser or unet_denoiser(unet), unet.dtype, callback, cancel)
        # 1. x_T^0 ~ N(0, I) for the anchors only (one per key with prompt travel).
        x = randn_per_frame(run.anchor_generators, run.latent_shape, device, torch.float32) * scheduler.init_noise_sigma
        x = options.first_noise(x)
        if plan.init == "shared":  # guided modes: every frame starts from that noise, all denoised from the start
            return steps(x.repeat_interleave(plan.frames, dim=0), range(len(ts)), VIDEO)
        # 2. Denoise the anchors alone down to T', keeping their latent at T (and the sampler's
        #    and the random streams' state there, where they restart). A pinned image needs none.
        if (pinned := options.pinned(at.warp)) is not None:
            restart, x = (options.pinned(at.restart), snapshot(run.scheduler), rng_states(run)), pinned
        else:
            x = steps(x, range(at.restart), ANCHOR)
            restart = (x.clone(), snapshot(run.scheduler), rng_states(run))
            x = steps(x, range(at.restart, at.warp), ANCHOR)
            steps.stop_if_all_broken()  # every frame copies its anchor: no use going on if all overflowed
        x_T, run.scheduler, states = restart
        # 3. x~_{T'}^k = W_k(x_{T'}^0): each frame's anchor moved by k * (dx, dy), or by the camera.
        warped, in_view = options.warped(*run.warp(x))
        # 4. x_T^k = sqrt(a_T / a_T') x~_{T'}^k + sqrt(1 - a_T / a_T') eps_k for the later frames;
        #    the anchors restart from their own x_T.
        later = ~torch.tensor([k in keys for _ in range(plan.videos) for k in range(plan.frames)], device=device)
        eps = options.renoise_noise(randn_per_frame(run.later_generators, run.latent_shape, device, torch.float32))
        x = torch.empty_like(warped)
        in_view = None if in_view is None else in_view[later]
        x[later] = options.renoised(renoise(run.scheduler, warped[later], eps, at), in_view)
        x[~later] = x_T
        for g, state in zip(run.anchor_generators, states):
            g.set_state(state)
        expand_history(run.scheduler, run.spread)
        # 5. Denoise all frames together from T, each attending to its anchor (section 2; between
        #    two keys, to both keys' anchors, blended by position).
        return steps(x, range(at.restart, len(ts)), VIDEO)


def start_run(unet, scheduler, text: Conditioning, plan: VideoPlan, device: torch.device, previews: bool) -> Run:
    """The scheduler's timeline, the rows' layout, every frame's random stream and W_k."""
    scheduler.set_timesteps(plan.steps, device=device)
    h, w = plan.latent_size
    layout = VideoLayout(plan.videos, plan.frames, plan.keys)
    key_of_frame = [layout.anchor_of(k) for k in range(plan.frames)]  # each frame follows the last key at or before it
    return Run(
        plan=plan, scheduler=scheduler, text=text, device=device,
        latent_shape=(unet.config.out_channels, h, w),  # an Instruct-Pix2Pix UNet takes 8 channels in, gives 4
        timesteps=scheduler.timesteps,
        at=scheduler_motion_steps(scheduler, plan.t_restart, plan.t_warp),
        layout=layout,
        generators=[frame_generators(seed, plan.frames) for seed in plan.seeds],
        key_rows=torch.tensor([i * plan.frames + key for i in range(plan.videos) for key in plan.keys], device=device),
        warp=key_warp(plan.frames, plan.videos, plan.keys, key_of_frame, plan.shift_per_frame, plan.camera, plan.fill,
                      device),
        previews=previews,
    )


def options_for(run: Run) -> Options:
    """The one registration: which options this plan turns on, in the order their hooks run."""
    plan, options = run.plan, []
    if len(plan.keys) > 1:
        options.append(KeySeeds(run))
    if plan.init_image is not None:
        options.append(pinned := PinnedImages(run))
        if plan.between is not None:
            options.append(EndImageDissolve(run, pinned.noise))
    if smoothing(plan):
        options.append(BackgroundSmoothing(run))
    if plan.noise_window:
        options.append(NoiseWindow(run))
    if plan.shared_step_noise:
        options.append(SharedStepNoise(run))
    options.append(EnteringNoise(run))
    if plan.feature_cache:
        options.append(FeatureCaching(run, plan.feature_cache))
    if plan.flow_guidance > 0 and plan.source_flow is not None:
        options.append(FlowFusion(run))
    if run.previews:
        options.append(Previews(run))
    return Options(options)


def smoothing(plan: VideoPlan) -> bool:
    return plan.background > 0 and plan.init == "motion" and plan.subject_tokens is not None


def rng_states(run: Run) -> list[torch.Tensor]:
    return [g.get_state() for g in run.anchor_generators]


@contextmanager
def cross_frame_attention(run: Run, unet, attention_models: list | None, options: Options):
    """Cross-frame attention on `attention_models` (default: the UNet) and the options' own
    processors, for the loop's duration; yields the FrameBatch that describes each UNet call
    (None when nothing attends across frames)."""
    plan = run.plan
    frames = FrameBatch(window=plan.attention_window, merge=plan.token_merge) \
        if plan.cross_frame or smoothing(plan) else None
    nets = (attention_models or [unet]) if plan.cross_frame else []
    previous = [install_cross_frame_attention(net, frames, prefix=f"{i}:") for i, net in enumerate(nets)]
    try:
        options.install(unet, frames)
        try:
            yield frames
        finally:
            options.remove()
    finally:
        for net, old in reversed(list(zip(nets, previous))):
            restore_attention(net, old)


class Steps:
    """Denoising steps: `steps(x, range(a, b), phase)` runs steps a..b-1 of the schedule on the
    anchors alone (ANCHOR) or on every frame (VIDEO), the options' hooks around each.

    After every step a per-video flag on the device records whether the latents are still finite
    (finite.py); `stop_if_all_broken` reads it, so it is called only where the loop waits anyway."""

    def __init__(self, run: Run, options: Option, frames: FrameBatch | None, denoiser: Denoiser, dtype: torch.dtype,
                 callback: Callable[[StepState], None] | None, cancel: CancelToken | None):
        self.run, self.options, self.frames, self.denoiser, self.dtype = run, options, frames, denoiser, dtype
        self.callback, self.cancel = callback, cancel
        plan = run.plan
        self.total = step_count(plan, run.scheduler, run.at)
        self.done = 0
        travel = len(plan.keys) > 1
        # Which text row each batch row reads: with travel every frame (and each anchor) its own.
        self.rows = {ANCHOR: run.key_rows if travel else None,
                     VIDEO: torch.arange(run.layout.rows, device=run.device) if travel else None}
        self.layouts = {ANCHOR: VideoLayout(plan.videos * len(plan.keys), 1), VIDEO: run.layout}
        self.generators = {ANCHOR: run.anchor_generators, VIDEO: [g for gens in run.generators for g in gens]}
        self.finite = torch.ones(plan.videos, dtype=torch.bool, device=run.device)
        self.only = None if plan.frames_only is None else frozenset(
            v * plan.frames + k for v in range(plan.videos) for k in range(*plan.frames_only))

    def __call__(self, x: torch.Tensor, steps: range, phase: str) -> torch.Tensor:
        for i in steps:
            x = self.step(i, x, phase)
        return x

    def step(self, i: int, x: torch.Tensor, phase: str) -> torch.Tensor:
        if self.cancel is not None and self.cancel.cancelled:
            raise Cancelled()
        run, t = self.run, self.run.timesteps[i]
        x = self.options.before_model(i, x, phase)
        model_input = run.scheduler.scale_model_input(x, t).to(self.dtype)
        eps = predict_noise(self.denoiser, model_input, t, self.layouts[phase], run.text, run.plan.chunk_size,
                            self.frames, self.rows[phase], self.only if phase == VIDEO else None).float()
        eps = self.options.guide(i, x, eps, phase)
        self.done += 1
        self.options.after_model(i, x, eps, phase)
        if self.callback is not None:
            extra = {"denoised": None, **self.options.report(i, x, eps, phase)}  # previews, masks
            self.callback(StepState(self.done, self.total, int(t), phase, **extra))
            if extra["denoised"] is not None:  # the preview has waited for this step
                self.stop_if_all_broken()
        if self.done % CHECK_EVERY == 0:  # without previews (the CLI, guided edits): a wait every 10 steps
            self.stop_if_all_broken()
        x = run.scheduler.step(eps, t, x, **_step_kwargs(run.scheduler, self.generators[phase]), return_dict=False)[0]
        x = self.options.after_step(i, x, phase)
        self.finite &= finite_per_video(x, self.run.plan.videos)
        return x

    def stop_if_all_broken(self) -> None:
        """NonFinite when every video's latents hold NaN or inf (reads the device flag)."""
        if not bool(self.finite.any()):
            message = f"the model's output overflowed (NaN or inf) in {dtype_name(self.dtype)} by step {self.done}"
            raise NonFinite(message, self.done, self.dtype, self.run.device)


def step_count(plan: VideoPlan, scheduler, at: MotionSteps | None = None) -> int:
    """UNet steps (StepState.total) of a video made by `plan` on this scheduler's timesteps (set):
    the anchor's steps down to T' and every frame's from T; one pass for the guided modes' shared
    start, and no anchor steps when a pinned image is the anchor. `at`: the run's T/T' steps where
    it has them (else found from the scheduler)."""
    n = len(scheduler.timesteps)
    if plan.init == "shared":
        return n
    if at is None:
        at = scheduler_motion_steps(scheduler, plan.t_restart, plan.t_warp)
    return n - at.restart if plan.init_image is not None else at.warp + (n - at.restart)


def _step_kwargs(scheduler, generators) -> dict:
    return {"generator": generators} if "generator" in inspect.signature(scheduler.step).parameters else {}



