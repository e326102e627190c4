"""Video Instruct-Pix2Pix (ALGORITHM.md section 4): an instruction ("make it snowy") applied to
every frame of a source video, with an instruct-pix2pix UNet whose 8 input channels are the
noisy latent and the source frame's latent.

The source frames enter as the *mode* of the VAE's latent distribution without the scaling
factor, as the model was trained (FACTS.md); the denoised latents are scaled as usual. Mixing
the two up fails silently, so it happens in one place: `source_latents`.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import torch

from .chunks import Denoiser


@torch.no_grad()
def source_latents(vae, frames: Iterable[np.ndarray], device: torch.device, batch: int = 4) -> torch.Tensor:
    """Unscaled latent modes of the source frames, kept on the CPU.  # (frames, c, h, w)"""
    out, pending = [], []

    def flush():
        images = torch.from_numpy(np.stack(pending)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        out.append(vae.encode(images.to(device, vae.dtype)).latent_dist.mode().float().cpu())
        pending.clear()

    for frame in frames:
        pending.append(frame)
        if len(pending) == batch:
            flush()
    if pending:
        flush()
    return torch.cat(out)


def instruct_denoiser(unet, latents: torch.Tensor) -> Denoiser:
    """UNet call on [noisy latent, source latent of the row's frame]; the branch without the
    image gets zeros there, as in diffusers' Instruct-Pix2Pix pipeline."""
    if unet.config.in_channels != 2 * latents.shape[1]:
        raise ValueError(
            f"this UNet takes {unet.config.in_channels} input channels; instruction editing needs an "
            f"Instruct-Pix2Pix model ({2 * latents.shape[1]} channels), e.g. timbrooks/instruct-pix2pix"
        )

    def call(x, t, emb, frames, with_image, extra=None):
        image = latents[frames.cpu()].to(x.device, x.dtype) * with_image.to(x.dtype)[:, None, None, None]
        return unet(torch.cat([x, image], dim=1), t, encoder_hidden_states=emb, return_dict=False, **(extra or {}))[0]

    return call
