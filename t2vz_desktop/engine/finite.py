"""Overflow in half precision: which videos it broke, and the precision to make them again in.

Stable Diffusion's UNet can overflow in float16: an activation above 65504 becomes inf, and the
next normalisation turns it into NaN (diffusers' issue reports of black images with fp16; the
same models are fine in bfloat16, whose range is float32's). A NaN in a latent stays NaN through
every later scheduler step (each step is a weighted sum of the latent and the model output), so
the final latents say which videos broke. The sampler also keeps a flag per video on the device
after every step, with no wait; it reads the flag only where the loop waits anyway (a preview,
the end of the anchors' steps), to stop at once when every video has broken.
"""

from __future__ import annotations

import torch

class NonFinite(RuntimeError):
    """NaN or inf in the latents of every video (by 1-based UNet `step`, computed in `dtype` on
    `device`), or in decoded frames."""

    def __init__(self, message: str, step: int = 0, dtype: torch.dtype | None = None,
                 device: torch.device | None = None):
        super().__init__(message)
        self.step, self.dtype, self.device = step, dtype, device


def finite_per_video(latents: torch.Tensor, videos: int) -> torch.Tensor:
    """Whether every value of each video's rows is finite; rows are video-major.  # (videos,) bool

    A device tensor: reading it waits for the device, so callers read it only where they wait anyway.
    """
    return torch.isfinite(latents).reshape(videos, -1).all(dim=1)


def fallback_dtype(dtype: torch.dtype, device: torch.device) -> torch.dtype | None:
    """The precision to make an overflowed video again in: bfloat16 where the GPU computes it
    natively (CUDA from Ampere on), else float32; None when `dtype` is float32 already."""
    if dtype == torch.float32:
        return None
    if dtype == torch.float16 and device.type == "cuda" and torch.cuda.is_bf16_supported(including_emulation=False):
        return torch.bfloat16
    return torch.float32


def dtype_name(dtype: torch.dtype) -> str:
    """torch.float16 -> "float16", as messages name a precision."""
    return str(dtype).removeprefix("torch.")
