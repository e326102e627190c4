"""Image-to-video: the user's start image (and end image) pinned as the anchors at every step.

Hooks `pinned` (step 2: the anchors need no denoising, their latent at any step is the image
noised to it) and `before_model` / `after_step` (the anchors' rows are put back to the image at
the step's noise level around every step). One fixed noise per anchor noises the image: re-noising
to T' alone would keep too little of it. An end image is the anchor of a second key, the last
frame (between.py says what the frames between start from). Not in the paper, whose anchor is a
text-to-image sample; the same pinning as image-conditioned video tools' "first frame".
"""

from __future__ import annotations

import torch

from .noise_schedule import noised
from .options import ANCHOR, Option, Run
from .seeds import randn_per_frame


class PinnedImages(Option):
    def __init__(self, run: Run):
        plan = run.plan
        self.run = run
        images = [plan.init_image] + ([] if plan.end_image is None else [plan.end_image])
        if len(images) != len(plan.keys):
            raise ValueError(f"{len(images)} pinned image(s) for {len(plan.keys)} key(s)")
        self.noise = randn_per_frame(run.anchor_generators, run.latent_shape, run.device, torch.float32)
        # (videos * keys, c, h, w), video-major in key order like the anchors
        self.images = torch.stack(images).to(run.device, torch.float32).repeat(run.videos, 1, 1, 1)

    def pinned(self, i: int) -> torch.Tensor:
        """The anchors at the noise level that enters step i (the clean image past the last step)."""
        if i >= len(self.run.timesteps):
            return self.images.clone()
        return noised(self.run.scheduler, self.images, self.noise, i)

    def _rows(self, phase: str):
        return slice(None) if phase == ANCHOR else self.run.key_rows

    def before_model(self, i, x, phase):
        x = x.clone()
        x[self._rows(phase)] = self.pinned(i)
        return x

    def after_step(self, i, x, phase):
        x[self._rows(phase)] = self.pinned(i + 1)
        return x
