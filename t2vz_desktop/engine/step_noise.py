"""Step noise shared by a video's frames, for samplers that add noise at every step.

Euler ancestral, LCM and TCD (every diffusers scheduler whose `step` draws from a generator) add
fresh noise after each denoising step. The engine gives every frame its own random stream, so from
T on each later frame drew its own step noise and its own details: on the demo model the warping
error between frames was 0.00085 under Euler ancestral against DDIM's 0.00079 (benchmarks/
RESULTS.md, 2026-12-05). Text2Video-Zero makes every frame from its anchor's noise (ALGORITHM.md,
steps 3-4); this option carries that on to the step noise: before every step of the video phase
each frame's stream is set to its anchor's, so a video's frames draw the same step noise. The
anchors' own draws are untouched, so frame 0's latent stays the Stable Diffusion image's (its
decoded pixels move only where the post smoother blends it with frame 1), and deterministic
samplers (DDIM, DPM-Solver++) draw nothing, so they are unchanged.
"""

from __future__ import annotations

import torch

from .options import VIDEO, Option, Run


class SharedStepNoise(Option):
    """Hooks `before_model` in the video phase: every frame's generator takes its anchor's state
    (the anchor: the last prompt-travel key at or before the frame; frame 0 without travel)."""

    def __init__(self, run: Run):
        keys, layout = run.plan.keys, run.layout
        self.followers: list[tuple[torch.Generator, torch.Generator]] = [
            (gens[keys[layout.anchor_of(k)]], g)
            for gens in run.generators for k, g in enumerate(gens) if k not in keys
        ]

    def before_model(self, i: int, x: torch.Tensor, phase: str) -> torch.Tensor:
        if phase == VIDEO:
            for anchor, frame in self.followers:
                frame.set_state(anchor.get_state())
        return x
