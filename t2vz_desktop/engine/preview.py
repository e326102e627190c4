"""Cheap live preview: latents -> RGB by a fixed linear map, instead of a VAE decode.

The map (latent channels -> RGB, plus bias) is fitted once per model by least squares: encode a
few smooth random colour fields with the model's own VAE and regress the average colour of
each latent pixel's patch on the latent. This works for any VAE (SD's, the demo model's, a
test's random one) without published factors, and costs one small encode at load time.
Applying it is one tiny matrix product per frame at latent resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .noise_schedule import estimate_x0
from .options import ANCHOR, Option, Run


@dataclass(frozen=True)
class PreviewMap:
    weight: torch.Tensor  # (channels, 3)
    bias: torch.Tensor  # (3,)


def vae_scale_factor(vae) -> int:
    return 2 ** (len(vae.config.block_out_channels) - 1)


def scaled_latents(vae, images: torch.Tensor) -> torch.Tensor:
    """The latents the sampler works with: the VAE's mean, shifted and scaled as diffusers does."""
    mean = vae.encode(images).latent_dist.mean
    shift = getattr(vae.config, "shift_factor", None) or 0.0
    return (mean - shift) * vae.config.scaling_factor


@torch.no_grad()
def fit_preview_map(vae, samples: int = 12, seed: int = 0) -> PreviewMap:
    factor = vae_scale_factor(vae)
    size = 8 * factor
    g = torch.Generator("cpu").manual_seed(seed)
    coarse = torch.rand(samples, 3, 4, 4, generator=g)
    images = F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False).clamp(0, 1)
    param = next(vae.parameters())
    lat = scaled_latents(vae, (images * 2 - 1).to(param.device, param.dtype)).float().cpu()
    rgb = F.avg_pool2d(images, factor)  # (n, 3, 8, 8), the colour each latent pixel stands for
    x = lat.permute(0, 2, 3, 1).reshape(-1, lat.shape[1])
    x = torch.cat([x, torch.ones(len(x), 1)], dim=1)
    y = rgb.permute(0, 2, 3, 1).reshape(-1, 3)
    solution = torch.linalg.lstsq(x.double(), y.double()).solution.float()  # (channels + 1, 3)
    return PreviewMap(weight=solution[:-1], bias=solution[-1])


def latents_to_rgb(latents: torch.Tensor, preview: PreviewMap) -> np.ndarray:
    """(n, c, h, w) latents -> (n, h, w, 3) uint8 at latent resolution."""
    x = latents.detach().float().cpu().permute(0, 2, 3, 1)
    rgb = x @ preview.weight + preview.bias
    return (rgb.clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()


class Previews(Option):
    """Hooks `report`: the x0 estimate of every frame after each step, for the live preview (in the
    anchor phase the anchors' estimate moved to every frame by the motion)."""

    def __init__(self, run: Run):
        self.run = run

    def report(self, i, x, eps, phase):
        x0 = estimate_x0(self.run.scheduler, x, eps, i)
        return {"denoised": self.run.spread(x0) if phase == ANCHOR else x0}
