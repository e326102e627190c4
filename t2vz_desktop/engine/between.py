"""Image-to-video with an end image: what the frames between the two pinned images start from.

The paper's step 3 starts every frame from the anchor it follows, W_k(x_T'^0). With a start and
an end image that left every frame between with the start's content: the end image appeared in
its own frame only, and the blend of the two anchors' attention could not carry the picture
across. So each frame between starts from a dissolve of the two images instead: each image
moved by the motion from its own key to frame k, mixed by position (the end image's share is
k / (frames - 1)), encoded by the VAE. The mix is made in pixels, not latents, since a latent
halfway between two colours need not decode to a colour between them (the demo model's halfway
latent between a blue and a green background decodes to near black). The sampler noises these
clean latents to T' with frame 0's noise, moved as W_k moves it, and re-noises them to T.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .motion import key_warp
from .noise_schedule import noised
from .options import Option, Run
from .preview import scaled_latents


@torch.no_grad()
def dissolve_latents(vae, images: torch.Tensor, frames: int, shift_per_frame: tuple[float, float],
                     camera: torch.Tensor | None, fill: str, latent_size: tuple[int, int],
                     batch: int = 8) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Clean latents of every frame's dissolve, and where they show known content.

    images: the start and end image (2, 3, H, W) in [-1, 1], on the VAE's device; motion in
    pixels of those images: shift_per_frame (dx, dy) per frame, or camera (frames, 3, 3) maps
    from frame 0 (motion.camera_matrices with scale 1); fill as VideoPlan.fill.
    Returns scaled latents (frames, c, h, w) as float32, and None or a (frames, 1, h, w) mask in
    [0, 1] of content either image shows (where neither does, the sampler puts fresh noise).
    Where only one image shows content (the camera brought it into view from its side), that
    image alone fills it. Encodes `batch` frames per VAE call.
    """
    device = images.device
    start, seen_start = key_warp(frames, 1, (0, frames - 1), [0] * frames, shift_per_frame, camera, fill, device)(images)
    end, seen_end = key_warp(frames, 1, (0, frames - 1), [1] * frames, shift_per_frame, camera, fill, device)(images)
    share = (torch.arange(frames, dtype=images.dtype, device=device) / (frames - 1))[:, None, None, None]
    in_view = None
    if seen_start is None:
        mixed = (1 - share) * start + share * end
    else:
        a, b = (1 - share) * seen_start.to(images.dtype), share * seen_end.to(images.dtype)
        mixed = (a * start + b * end) / (a + b).clamp_min(1e-6)
        in_view = F.interpolate(torch.maximum(seen_start, seen_end).float(), size=latent_size, mode="area")
    param = next(vae.parameters())
    latents = torch.cat([scaled_latents(vae, mixed[i:i + batch].to(param.dtype)).float()
                         for i in range(0, frames, batch)])
    return latents, in_view


class EndImageDissolve(Option):
    """Hooks `warped` (step 3): the frames between the pinned images start from their dissolve
    (VideoPlan.between, made by `dissolve_latents`), noised to T' with the start image's pinned
    noise moved as W_k moves it, instead of W_k(x_T'^0)."""

    def __init__(self, run: Run, pinned_noise: torch.Tensor):
        self.run, self.noise = run, pinned_noise  # (videos * keys, c, h, w)

    def warped(self, x, in_view):
        plan, v = self.run.plan, self.run.videos
        x = noised(self.run.scheduler, plan.between.to(self.run.device).repeat(v, 1, 1, 1), self.run.spread(self.noise),
                   self.run.at.warp)
        in_view = None if plan.between_in_view is None else plan.between_in_view.to(self.run.device).repeat(v, 1, 1, 1)
        return x, in_view
