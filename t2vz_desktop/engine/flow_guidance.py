"""Flow-guided editing: carry the edit along the source video's own motion, inside the loop.

Cross-frame attention to frame 0 keeps an edit's look but not its motion: each frame's picture
is free to drift from where the source's motion puts it (V2VBench's motion alignment, the worst
of ten methods for Text2Video-Zero). Here, at each of the first steps, every frame's clean
estimate x0 is fused with the previous frame's, warped along the source's optical flow, where
that flow is reliable (Rerender-A-Video's and FRESCO's cross-frame fusion of x0, training-free):

    x0'_k = (1 - w_k) x0_k + w_k W_k(x0'_{k-1}),   w_k = strength * reliable_k,   k = 1 .. F-1

in frame order, so frame 0's content is carried down the whole chain; the model output is then
re-expressed from x0'_k (noise_schedule.model_output_for) and the sampler steps as usual. Late
steps are left alone: they only add detail, which the fused structure already places.

Why x0 fusion and not flow-guided attention (FLATTEN) or feature propagation (TokenFlow): it needs
no change inside the attention processors that cross-frame attention and the ControlNets already
own, it costs one warp of a (c, h/8, w/8) latent per frame and step, and a whole video's model
output is at hand after each UNet call (chunks are joined by then), so chunked edits stay exact.

The guiding flow is the smoother's Farneback (engine/flow.py) on the source frames as the edit
fitted them; the measure (`t2vz eval --source`, measure/alignment.py) uses DIS, so the option is
not graded by the flow it followed.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterable

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .flow import NARROW, dense_flow, flow_grey, trusted
from .noise_schedule import estimate_x0, model_output_for
from .options import VIDEO, Option, Run

DEFAULT_STEPS_SHARE = 0.5  # fuse during the first half of the steps (structure), leave the rest


@dataclass(frozen=True)
class SourceFlow:
    """Each frame's flow back to the previous one, in latent pixels, and where it is reliable.

    flow[k] maps frame k's latent grid onto frame k-1: x_k(p) ~ x_{k-1}(p + flow[k](p));
    flow[0] and reliable[0] are zero (frame 0 has no previous frame)."""

    flow: torch.Tensor  # (frames, 2, h, w) float32, (dx, dy)
    reliable: torch.Tensor  # (frames, 1, h, w) float32 in [0, 1]


def source_flow(frames: Iterable[np.ndarray], latent_size: tuple[int, int], workers: int | None = None) -> SourceFlow:
    """The flows of uint8 RGB source frames (H, W, 3) at `latent_size` (h, w). Frames are read as
    they stream and only their grey copies at flow size (at most flow.FLOW_SIDE px, 64 KB) are kept;
    the pairs are measured in `workers` threads (default: the CPU's cores, at most 8), since
    Farneback runs on one core (about 30 ms for each of a pair's two flows at 256 px) and OpenCV
    releases the GIL. The result does not depend on `workers`."""
    h, w = latent_size
    greys, size = [], (0, 0)
    for frame in frames:
        greys.append(flow_grey(frame))
        size = frame.shape[:2]

    def pair(k: int) -> tuple[np.ndarray, np.ndarray]:
        back = dense_flow(greys[k], greys[k - 1], size, NARROW)  # frame k -> frame k-1
        forward = dense_flow(greys[k - 1], greys[k], size, NARROW)
        ok = trusted(back, forward)
        gain = np.array([w / size[1], h / size[0]], np.float32)  # pixels -> latent pixels
        small = cv2.resize(back, (w, h), interpolation=cv2.INTER_AREA) * gain
        return small.transpose(2, 0, 1), cv2.resize(ok, (w, h), interpolation=cv2.INTER_AREA)[None]

    with ThreadPoolExecutor(workers or min(8, os.cpu_count() or 1)) as pool:
        measured = list(pool.map(pair, range(1, len(greys))))
    flows = [np.zeros((2, h, w), np.float32)] + [f for f, _ in measured]
    reliable = [np.zeros((1, h, w), np.float32)] + [r for _, r in measured]
    return SourceFlow(torch.from_numpy(np.stack(flows)), torch.from_numpy(np.stack(reliable)))


def warp_latent(x: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """`x` (n, c, h, w) sampled at p + flow(p) (flow (n, 2, h, w) in latent pixels), bilinear,
    borders replicated."""
    n, _, h, w = x.shape
    ys, xs = torch.meshgrid(torch.arange(h, device=x.device, dtype=x.dtype),
                            torch.arange(w, device=x.device, dtype=x.dtype), indexing="ij")
    gx = (xs + flow[:, 0]) * (2 / max(w - 1, 1)) - 1
    gy = (ys + flow[:, 1]) * (2 / max(h - 1, 1)) - 1
    return F.grid_sample(x, torch.stack([gx, gy], dim=-1), mode="bilinear", padding_mode="border", align_corners=True)


def fuse(x0: torch.Tensor, frames: int, source: SourceFlow, strength: float) -> torch.Tensor:
    """x0 of every frame of every video (videos * frames, c, h, w), each frame fused with the
    previous one's fused x0 warped along the source flow, in frame order (see the module)."""
    out = x0.clone()
    flow = source.flow.to(x0.device, x0.dtype)
    weight = (strength * source.reliable).to(x0.device, x0.dtype)
    for video in range(x0.shape[0] // frames):
        rows = slice(video * frames, (video + 1) * frames)
        clip = out[rows]
        for k in range(1, frames):
            carried = warp_latent(clip[k - 1 : k], flow[k : k + 1])
            clip[k] = (1 - weight[k]) * clip[k] + weight[k] * carried[0]
    return out


class FlowFusion(Option):
    """The loop's piece for flow-guided editing (VideoPlan.flow_guidance > 0)."""

    def __init__(self, run: Run):
        self.run = run
        plan = run.plan
        self.strength = plan.flow_guidance
        # The share counts from where every frame is denoised: the first step with shared noise,
        # T with the motion field (before it the anchor is denoised alone).
        start = 0 if plan.init == "shared" else run.at.restart
        self.until = start + max(1, round((len(run.timesteps) - start) * plan.flow_steps))
        self.source = plan.source_flow

    def guide(self, i: int, x: torch.Tensor, eps: torch.Tensor, phase: str) -> torch.Tensor:
        if phase != VIDEO or i >= self.until:
            return eps
        scheduler = self.run.scheduler
        x0 = estimate_x0(scheduler, x, eps, i)
        return model_output_for(scheduler, x, fuse(x0, self.run.frames, self.source, self.strength), i)
