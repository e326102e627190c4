"""Motion field (ALGORITHM.md section 1, step 3): per-frame global translation of the latents.

Motion is given in pixels of the output video per frame. The latent grid is coarser by the
VAE's downsampling factor, so a shift of `dx` output pixels is `dx / factor` latent pixels,
interpolated bilinearly when it is not a whole number.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from .camera import CameraKey, camera_at, default_motion  # noqa: F401  (re-exported)

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
    # The grid is built in float64 so that whole-pixel shifts land on pixel centres to float32's
    # rounding once cast (about 1e-7 of the width, so within ~1e-5 of the exact value), not more.
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


def _matrix(pan_x: float, pan_y: float, zoom: float, rotate: float) -> torch.Tensor:
    """Where the camera sends a point, in pixels relative to the frame centre (y down).  # (3, 3)"""
    t = math.radians(rotate)
    c, s = math.cos(t) * zoom, math.sin(t) * zoom
    # counter-clockwise on screen with y pointing down: (1, 0) -> (cos, -sin)
    return torch.tensor([[c, s, pan_x], [-s, c, pan_y], [0.0, 0.0, 1.0]], dtype=torch.float64)


def camera_matrices(keys: list[CameraKey], num_frames: int, scale: float) -> torch.Tensor:
    """Per frame, the map from frame 0's content to frame k's, in latent pixels (output pixels /
    `scale`). Frame 0 is the identity: the anchor is what it is.  # (frames, 3, 3)"""
    mats = []
    for k in range(num_frames):
        px, py, zoom, rot = camera_at(keys, k)
        mats.append(_matrix(px / scale, py / scale, zoom, rot))
    first_inverse = torch.linalg.inv(mats[0])
    return torch.stack([m @ first_inverse for m in mats])


def translation_matrices(shifts: torch.Tensor) -> torch.Tensor:
    """Camera matrices of pure shifts (n, 2) -> (n, 3, 3), so that a shift can use camera_warp's
    valid-region mask."""
    mats = torch.eye(3, dtype=torch.float64).repeat(len(shifts), 1, 1)
    mats[:, :2, 2] = shifts.to(torch.float64)
    return mats


def camera_warp(latents: torch.Tensor, matrices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply each frame's camera to its latent. Returns the warped latents and where they show
    content that was in view (1) rather than content entering the frame (0), so that the caller
    fills what enters with fresh noise instead of stretched borders.
    latents: (n, c, h, w); matrices: (n, 3, 3) -> (n, c, h, w), (n, 1, h, w)"""
    n, _, h, w = latents.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    centred = torch.stack([xs - (w - 1) / 2, ys - (h - 1) / 2, torch.ones_like(xs)], dim=-1)  # (h, w, 3)
    inverse = torch.linalg.inv(matrices)  # output pixel -> source pixel
    src = torch.einsum("nij,hwj->nhwi", inverse, centred)[..., :2]  # (n, h, w, 2) centred source coords
    gx = src[..., 0] / ((w - 1) / 2 if w > 1 else 1)
    gy = src[..., 1] / ((h - 1) / 2 if h > 1 else 1)
    grid = torch.stack([gx, gy], dim=-1)
    valid = ((grid.abs() <= 1 + 1e-6).all(dim=-1)).to(latents.dtype)[:, None]  # (n, 1, h, w)
    warped = F.grid_sample(latents.float(), grid.to(device=latents.device, dtype=torch.float32),
                           mode="bilinear", padding_mode="border", align_corners=True)
    return warped.to(latents.dtype), valid.to(latents.device)


Warp = Callable[[torch.Tensor], tuple[torch.Tensor, "torch.Tensor | None"]]


def key_warp(frames: int, videos: int, keys: tuple[int, ...], key_of_frame: list[int],
             shift_per_frame: tuple[float, float], camera: torch.Tensor | None, fill: str,
             device: torch.device) -> Warp:
    """W_k for every frame k of every video: the anchor of key `key_of_frame[k]` (an index into
    `keys`) moved by the motion from that key's frame to frame k, (k - key) * shift_per_frame, or
    C_k C_key^-1 of the per-frame `camera` (frames, 3, 3). Units are those of the tensors warped.

    The returned function maps anchors (videos * len(keys), n, h, w), video-major in key order,
    to (videos * frames, n, h, w) and where the result shows content that was in view
    ((videos * frames, 1, h, w); None: everywhere, as a plain shift's reflect fill leaves
    nothing unknown).
    """
    n_keys = len(keys)
    # Index tensors live on the device from the start: copying one there inside the loop
    # would wait for the GPU at every step.
    source = torch.tensor([i * n_keys + key_of_frame[k] for i in range(videos) for k in range(frames)], device=device)
    since_key = torch.tensor([k - keys[key_of_frame[k]] for k in range(frames)], dtype=torch.float64)
    shifts = (since_key[:, None] * torch.tensor(shift_per_frame, dtype=torch.float64)).repeat(videos, 1)
    cameras = None
    if camera is not None:
        at_key = torch.stack([camera[k] @ torch.linalg.inv(camera[keys[key_of_frame[k]]]) for k in range(frames)])
        cameras = at_key.repeat(videos, 1, 1)  # (videos * frames, 3, 3)

    def warp(anchors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        repeated = anchors[source]
        if cameras is None and fill == "reflect":
            return translate(repeated, shifts), None
        return camera_warp(repeated, cameras if cameras is not None else translation_matrices(shifts))

    return warp
