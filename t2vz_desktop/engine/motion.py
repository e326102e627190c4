"""Motion field (ALGORITHM.md section 1, step 3): per-frame global translation of the latents.

Motion is given in pixels of the output video per frame. The latent grid is coarser by the
VAE's downsampling factor, so a shift of `dx` output pixels is `dx / factor` latent pixels,
interpolated bilinearly when it is not a whole number.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# Paper default: 12 px per frame of a 512 px frame in x and in y.
PAPER_MOTION_PX = 12.0
PAPER_FRAME_PX = 512.0


def default_motion(width: int, height: int) -> tuple[float, float]:
    """The paper's 12 px/frame at 512 px, scaled to the output size (1.5 px at 64 px)."""
    return PAPER_MOTION_PX * width / PAPER_FRAME_PX, PAPER_MOTION_PX * height / PAPER_FRAME_PX


def frame_shifts(num_frames: int, dx: float, dy: float) -> torch.Tensor:
    """delta_k = k * (dx, dy) for k = 0 .. m-1, in the caller's units.  # (frames, 2)"""
    k = torch.arange(num_frames, dtype=torch.float64)[:, None]
    return k * torch.tensor([dx, dy], dtype=torch.float64)


def translate(latents: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Move the content of each latent by its (dx, dy) in latent pixels; +dx moves it right.

    latents: (n, c, h, w); shifts: (n, 2). Output pixel (x, y) reads input (x - dx, y - dy);
    what enters the view is filled by reflection, as the official implementation does, so
    that the re-noised latent keeps natural statistics at the borders.
    """
    n, _, h, w = latents.shape
    if shifts.shape != (n, 2):
        raise ValueError(f"need one (dx, dy) per latent: got shifts {tuple(shifts.shape)} for {n} latents")
    if not torch.any(shifts != 0):
        return latents.clone()
    # Build the sampling grid in float64 so that whole-pixel shifts land exactly on pixel centres.
    ys = torch.arange(h, dtype=torch.float64)
    xs = torch.arange(w, dtype=torch.float64)
    src_x = xs[None, None, :] - shifts[:, 0, None, None]  # (n, 1, w)
    src_y = ys[None, :, None] - shifts[:, 1, None, None]  # (n, h, 1)
    # align_corners=True: -1 and +1 are the centres of the first and last pixels.
    gx = (2.0 * src_x / max(w - 1, 1) - 1.0).expand(n, h, w)
    gy = (2.0 * src_y / max(h - 1, 1) - 1.0).expand(n, h, w)
    grid = torch.stack([gx, gy], dim=-1).to(device=latents.device, dtype=torch.float32)  # (n, h, w, 2)
    warped = F.grid_sample(
        latents.float(), grid, mode="bilinear", padding_mode="reflection", align_corners=True
    )
    return warped.to(latents.dtype)
