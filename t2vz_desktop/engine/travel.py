"""Prompt travel's anchors (engine/prompts.py makes the per-frame text): one anchor per keyed
prompt, and the noise each anchor starts from.

Hooks `first_noise` (step 1): a later key shares frame 0's x_T, so the layout stays steady from
key to key, unless the key names its own seed. The frames between two keys attend to both keys'
anchors, blended by position (chunks._travel_groups, attention.py). Not in the paper, which has
one prompt; the per-key anchor follows prompt-interpolation tools such as Deforum's.
"""

from __future__ import annotations

import torch

from .options import Option, Run


class KeySeeds(Option):
    def __init__(self, run: Run):
        self.run = run

    def first_noise(self, x: torch.Tensor) -> torch.Tensor:  # (videos * keys, c, h, w)
        plan, (c, h, w) = self.run.plan, self.run.latent_shape
        x = x.view(plan.videos, len(plan.keys), c, h, w)
        for j, seed in enumerate(plan.key_seeds):
            if j and seed is None:
                x[:, j] = x[:, 0]
            elif j:
                own = torch.Generator("cpu").manual_seed(seed)
                x[:, j] = torch.randn((c, h, w), generator=own).to(self.run.device) * self.run.scheduler.init_noise_sigma
        return x.reshape(plan.videos * len(plan.keys), c, h, w)
