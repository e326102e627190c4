"""Feature caching across denoising steps (DeepCache: Ma, Fang and Wang, CVPR 2024), a fast mode.

Between neighbouring steps the UNet's deep features change little; its shallowest skip branch
carries what changes. Every `interval`-th step (and the first of each phase) is a full UNet call
that also keeps the hidden state entering the last up block's shallow pairs (and so is every step
of the last fifth, FULL_TAIL, where the edges form); the steps between
compute only the shallow branch (conv_in, the first down block's first resnet/attention pair,
the last up block's pairs that read those skips, conv_out) on that kept state. This is DeepCache's
uniform schedule with its shallowest branch (cache_layer_id=0, cache_block_id=0 in its code; the
paper reports 2.3x on SD 1.5 with interval 3 at a CLIP-score cost of about 0.05). It changes the
pixels: a fast mode, never the exact one.

Every UNet call of a step is kept (one per chunk), in call order, which is the same in every
step of a phase; cross-frame attention still runs on the shallow layers, with the anchor's keys
and values recorded by the step's first chunk as usual. ControlNet's residuals are added to the
skips that are recomputed (its own network still runs every step).
"""

from __future__ import annotations

import torch

from .options import Option, Run

DEFAULT_INTERVAL = 3  # DeepCache's uniform interval for SD 1.5
SHALLOW_SKIPS = 2  # skip connections recomputed: conv_in's output and the first down pair's
# The last fifth of the steps run in full: the edges form there, and redrawn from stale deep
# features they cost the demo model 0.034 of its shape accuracy (0.000 with this tail; time
# 1.84x -> 1.47x faster than exact, benchmarks/RESULTS.md).
FULL_TAIL = 0.2


def is_full_step(i: int, phase_start: int, steps: int, interval: int = DEFAULT_INTERVAL) -> bool:
    """Whether step i (0-based, of `steps`) is a full UNet call: every `interval`-th step of its
    phase, which began at step `phase_start`, and every step of the last FULL_TAIL share."""
    return (i - phase_start) % interval == 0 or i >= steps - int(round(FULL_TAIL * steps))


class FeatureCaching(Option):
    """Full UNet calls every `interval` steps of a phase; the shallow branch on the kept deep
    features in between (module docstring)."""

    def __init__(self, run: Run, interval: int = DEFAULT_INTERVAL):
        self.interval, self.steps = interval, len(run.timesteps)
        self.phase, self.phase_start = None, 0
        self.full, self.call = True, 0
        self.kept: list[torch.Tensor] = []
        self.full_calls = self.shallow_calls = 0  # counted for tests and benchmarks

    def install(self, unet, frames) -> None:
        check_plain_unet(unet)
        self.unet, self.forward = unet, unet.forward
        self.patched = unet.__dict__.get("forward")  # accelerate's offload hooks patch forward too
        up = unet.up_blocks[-1]
        self.first = len(up.resnets) - min(SHALLOW_SKIPS, len(up.resnets))  # first up pair recomputed
        self.hook = up.resnets[self.first].register_forward_pre_hook(self._keep)
        unet.forward = self._call

    def remove(self) -> None:
        self.hook.remove()
        if self.patched is None:
            del self.unet.forward  # back to the class's forward
        else:
            self.unet.forward = self.patched
        self.kept = []

    def before_model(self, i: int, x: torch.Tensor, phase: str) -> torch.Tensor:
        if phase != self.phase:  # the anchors alone, then every frame: other batches, kept nothing
            self.phase, self.phase_start = phase, i
        self.full = is_full_step(i, self.phase_start, self.steps, self.interval)
        if self.full:
            self.kept = []
        self.call = 0
        return x

    def _keep(self, module, args) -> None:
        if self.full:
            self.kept.append(args[0])  # the deep hidden state concatenated with its skip

    def _call(self, sample, timestep, encoder_hidden_states=None, *, return_dict: bool = True,
              down_block_additional_residuals=None, **kwargs):
        if self.full:
            self.full_calls += 1
            return self.forward(sample, timestep, encoder_hidden_states, return_dict=return_dict,
                                down_block_additional_residuals=down_block_additional_residuals, **kwargs)
        kept = self.kept[self.call]
        self.call += 1
        self.shallow_calls += 1
        out = shallow_branch(self.unet, sample, timestep, encoder_hidden_states, kept, self.first,
                             down_block_additional_residuals, kwargs.get("added_cond_kwargs"),
                             kwargs.get("timestep_cond"))
        if return_dict:
            from diffusers.models.unets.unet_2d_condition import UNet2DConditionOutput

            return UNet2DConditionOutput(sample=out)
        return (out,)


def check_plain_unet(unet) -> None:
    """ValueError for a UNet whose forward adds what the shallow branch does not compute
    (class embeddings, added embeddings other than SDXL's text_time, FreeU)."""
    c = unet.config
    if (unet.class_embedding is not None or c.addition_embed_type not in (None, "text_time") or c.center_input_sample
            or any(getattr(up, "s1", None) for up in unet.up_blocks)):
        raise ValueError("--speed cache works with Stable Diffusion 1.x/2.x and SDXL UNets only")


def _pair(block, j: int, hidden: torch.Tensor, emb: torch.Tensor, text: torch.Tensor | None) -> torch.Tensor:
    """Resnet j of a UNet block and, where the block has them, its attention j."""
    hidden = block.resnets[j](hidden, emb)
    if getattr(block, "attentions", None) is not None:
        hidden = block.attentions[j](hidden, encoder_hidden_states=text, return_dict=False)[0]
    return hidden


def shallow_branch(unet, sample: torch.Tensor, timestep, text: torch.Tensor | None, kept: torch.Tensor,
                   first: int, control: tuple[torch.Tensor, ...] | None = None,
                   added: dict | None = None, timestep_cond: torch.Tensor | None = None) -> torch.Tensor:
    """The UNet's output from its shallowest skip branch and the kept deep state.

    sample: (batch, c_in, h, w); kept: the input of the last up block's resnet `first` on the last
    full step (deep channels, then the skip's); `added`: SDXL's added conditioning;
    `timestep_cond`: a guidance-distilled model's guidance embedding; returns (batch, c_out, h, w).
    Mirrors diffusers' UNet2DConditionModel.forward for the blocks it runs.
    """
    emb = unet.time_embedding(unet.get_time_embed(sample=sample, timestep=timestep), timestep_cond)
    if added is not None:  # SDXL: pooled text and size ids join the timestep embedding
        emb = emb + unet.get_aug_embed(emb=emb, encoder_hidden_states=text, added_cond_kwargs=added)
    if unet.time_embed_act is not None:
        emb = unet.time_embed_act(emb)
    up = unet.up_blocks[-1]
    n = len(up.resnets)  # its skips are conv_in's output and the first down block's pairs
    skips = [unet.conv_in(sample)]
    for j in range(n - 1 - first):
        skips.append(_pair(unet.down_blocks[0], j, skips[-1], emb, text))
    if control is not None:
        skips = [s + r for s, r in zip(skips, control)]
    # Up resnet j reads skip n - 1 - j (diffusers pops the skips from the end).
    hidden = kept[:, : kept.shape[1] - skips[n - 1 - first].shape[1]]
    for j in range(first, n):
        hidden = _pair(up, j, torch.cat([hidden, skips[n - 1 - j]], dim=1), emb, text)
    if unet.conv_norm_out is not None:
        hidden = unet.conv_act(unet.conv_norm_out(hidden))
    return unet.conv_out(hidden)
