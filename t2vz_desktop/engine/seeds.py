"""Random numbers per frame, so that a frame's noise never depends on batching or chunking.

Every (video, frame) has its own CPU generator. Frame 0 of a video uses `seed` itself, exactly
as diffusers' StableDiffusionPipeline does, so frame 0 reproduces an ordinary SD sample; the
other frames get seeds derived from (seed, frame) with NumPy's SeedSequence, which mixes them
so that neighbouring seeds do not give correlated streams.
"""

from __future__ import annotations

import numpy as np
import torch

from .options import Option, Run


SHUFFLE_STREAM = 2**32 - 1  # a "frame index" no video reaches: the stream of noise shuffles


def frame_seed(seed: int, frame: int) -> int:
    if frame == 0:
        return seed
    state = np.random.SeedSequence([seed, frame]).generate_state(2, dtype=np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1


def frame_generators(seed: int, num_frames: int) -> list[torch.Generator]:
    return [torch.Generator("cpu").manual_seed(frame_seed(seed, k)) for k in range(num_frames)]


def randn_per_frame(
    generators: list[torch.Generator], shape: tuple[int, ...], device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    """One standard-normal sample of `shape` from each generator, stacked.  # (frames, *shape)"""
    samples = [torch.randn(shape, generator=g, dtype=torch.float32) for g in generators]
    if not samples:  # a one-frame video has no later frames to re-noise
        return torch.empty((0, *shape), device=device, dtype=dtype)
    return torch.stack(samples).to(device=device, dtype=dtype)


def shuffled_windows(noise: torch.Tensor, window: int, seed: int) -> torch.Tensor:
    """FreeNoise-style noise for long videos (Qiu et al., 2023): the first `window` frames keep
    their own noise, every later block of `window` frames re-uses those noises in a shuffled
    order, so frames far apart stay correlated instead of drifting apart.  # (frames, ...)"""
    if window <= 0 or len(noise) <= window:
        return noise
    g = torch.Generator("cpu").manual_seed(frame_seed(seed, SHUFFLE_STREAM))
    order = [torch.arange(window)]
    while sum(len(o) for o in order) < len(noise):
        order.append(torch.randperm(window, generator=g))
    index = torch.cat(order)[: len(noise)].to(noise.device)
    return noise[index]


class NoiseWindow(Option):
    """Hooks `renoise_noise` (step 4): each video's later frames re-use their first window's noise
    in shuffled order (`shuffled_windows`)."""

    def __init__(self, run: Run):
        self.run = run

    def renoise_noise(self, noise: torch.Tensor) -> torch.Tensor:  # (videos * later frames, c, h, w)
        plan = self.run.plan
        return torch.cat([shuffled_windows(n, plan.noise_window, seed)
                          for n, seed in zip(noise.split(plan.frames - len(plan.keys)), plan.seeds)])
