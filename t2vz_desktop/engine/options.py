"""What the sampler's options share: the run they read, and the points of the loop they hook.

An option (prompt travel's key seeds, pinned images, background smoothing, the end image's
dissolve, noise windows, shared step noise, fresh noise where the motion uncovers the frame,
previews) is a small
`Option` subclass in its own file. It overrides only the hooks it needs; the others pass their
input through. `Options` calls each hook on every registered option in order (sampler.options_for
is the one registration), so the loop itself names each point once and never an option.

The hooks, in the loop's order (ALGORITHM.md section 1's steps):
- `install` / `remove`: before and after the whole loop (attention probes on the UNet);
- `first_noise(x)`: step 1, the anchors' x_T;
- `pinned(i)`: step 2, the anchors' latent at step i when an image fixes them (no denoising);
- `before_model(i, x, phase)`, `guide(i, x, eps, phase)` (may change the model output),
  `after_model(i, x, eps, phase)`, `report(i, x, eps, phase)` and `after_step(i, x, phase)`:
  around every denoising step (report: extra StepState fields for the callback);
- `warped(x, in_view)`: step 3, W_k(x_T'^0) of every frame;
- `renoise_noise(noise)` and `renoised(x, in_view)`: step 4, the DDPM forward jump's noise and
  the later frames it made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from .chunks import Conditioning, VideoLayout
from .motion import Warp
from .noise_schedule import MotionSteps

if TYPE_CHECKING:
    from .sampler import VideoPlan

ANCHOR, VIDEO = "anchor", "video"  # the loop's phases: the anchors alone before T', every frame from T


@dataclass
class Run:
    """One sampling run as every option sees it. Rows are video-major: row = video * frames + k;
    the anchors, when alone, are video-major in key order."""

    plan: VideoPlan
    scheduler: object  # a diffusers scheduler; replaced by its copy at T when every frame restarts
    text: Conditioning
    device: torch.device
    latent_shape: tuple[int, int, int]  # (c, h, w)
    timesteps: torch.Tensor
    at: MotionSteps  # step indices of T and T'
    layout: VideoLayout  # every frame of every video
    generators: list[list[torch.Generator]]  # [video][frame]: each frame's own random stream
    key_rows: torch.Tensor  # rows of the anchors among every frame's, video-major in key order
    warp: Warp  # W_k: each frame's anchor moved by the motion from its key (motion.key_warp)
    previews: bool  # the callback gets x0 estimates and masks

    @property
    def frames(self) -> int:
        return self.plan.frames

    @property
    def videos(self) -> int:
        return self.plan.videos

    @property
    def anchor_generators(self) -> list[torch.Generator]:
        return [gens[key] for gens in self.generators for key in self.plan.keys]

    @property
    def later_generators(self) -> list[torch.Generator]:
        return [g for gens in self.generators for k, g in enumerate(gens) if k not in self.plan.keys]

    def spread(self, anchors: torch.Tensor) -> torch.Tensor:
        """Anchor-batch tensor -> every frame's, moved by the motion.  # (videos * frames, ...)"""
        return self.warp(anchors)[0]


class Option:
    """A piece of the loop; every hook passes its input through unless overridden."""

    def install(self, unet, frames) -> None:
        pass

    def remove(self) -> None:
        pass

    def first_noise(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def pinned(self, i: int) -> torch.Tensor | None:
        return None

    def before_model(self, i: int, x: torch.Tensor, phase: str) -> torch.Tensor:
        return x

    def guide(self, i: int, x: torch.Tensor, eps: torch.Tensor, phase: str) -> torch.Tensor:
        return eps

    def after_model(self, i: int, x: torch.Tensor, eps: torch.Tensor, phase: str) -> None:
        pass

    def report(self, i: int, x: torch.Tensor, eps: torch.Tensor, phase: str) -> dict:
        return {}

    def after_step(self, i: int, x: torch.Tensor, phase: str) -> torch.Tensor:
        return x

    def warped(self, x: torch.Tensor, in_view: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        return x, in_view

    def renoise_noise(self, noise: torch.Tensor) -> torch.Tensor:
        return noise

    def renoised(self, x: torch.Tensor, in_view: torch.Tensor | None) -> torch.Tensor:
        return x


class Options(Option):
    """Registered options, called in order at every hook."""

    def __init__(self, options: list[Option]):
        self.options = options

    def install(self, unet, frames) -> None:
        for o in self.options:
            o.install(unet, frames)

    def remove(self) -> None:
        for o in reversed(self.options):
            o.remove()

    def first_noise(self, x):
        for o in self.options:
            x = o.first_noise(x)
        return x

    def pinned(self, i):
        return next((p for o in self.options if (p := o.pinned(i)) is not None), None)

    def before_model(self, i, x, phase):
        for o in self.options:
            x = o.before_model(i, x, phase)
        return x

    def guide(self, i, x, eps, phase):
        for o in self.options:
            eps = o.guide(i, x, eps, phase)
        return eps

    def after_model(self, i, x, eps, phase):
        for o in self.options:
            o.after_model(i, x, eps, phase)

    def report(self, i, x, eps, phase):
        return {k: v for o in self.options for k, v in o.report(i, x, eps, phase).items()}

    def after_step(self, i, x, phase):
        for o in self.options:
            x = o.after_step(i, x, phase)
        return x

    def warped(self, x, in_view):
        for o in self.options:
            x, in_view = o.warped(x, in_view)
        return x, in_view

    def renoise_noise(self, noise):
        for o in self.options:
            noise = o.renoise_noise(noise)
        return noise

    def renoised(self, x, in_view):
        for o in self.options:
            x = o.renoised(x, in_view)
        return x
