"""What the motion brings into view (`--motion-fill noise`, the default): fresh noise at T.

Hooks `renoised` (step 4): where a later frame's warp shows no content of its anchor (the
border a shift or a camera move uncovers, `in_view` < 1), its re-noised latent is replaced by
fresh noise at T's level, so the model draws new content there instead of stretched or
mirrored borders. With `reflect` and a plain shift the warp mirrors the picture instead, as the
official code does, and there is nothing to fill. Not in the paper, which warps with reflection.
"""

from __future__ import annotations

import torch

from .noise_schedule import noise_scale
from .options import Option, Run
from .seeds import randn_per_frame


class EnteringNoise(Option):
    def __init__(self, run: Run):
        self.run = run

    def renoised(self, x: torch.Tensor, in_view: torch.Tensor | None) -> torch.Tensor:
        """x, in_view: the later frames' rows  # (videos * later frames, c, h, w), (..., 1, h, w)"""
        if in_view is None:
            return x
        run = self.run
        # Drawn after the re-noise noise, from the same per-frame streams.
        fresh = randn_per_frame(run.later_generators, run.latent_shape, run.device, torch.float32) * noise_scale(
            run.scheduler, run.at.restart)
        return in_view * x + (1 - in_view) * fresh
