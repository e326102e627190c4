"""Cross-frame attention (ALGORITHM.md section 2) as a diffusers attention processor.

In every self-attention layer each frame's queries attend to the keys and values of the anchor
(frame 0 of its own video, in its own guidance half): Attn(Q^k, K^0, V^0). The processor does
not guess the batch layout from its size; the sampler describes every UNet call with a
`FrameBatch`: which contiguous rows share an anchor, and where that anchor's row is, if it is
in this call at all. When a chunk of frames does not contain its anchor, the anchor's keys and
values recorded earlier in the same denoising step are used, so chunked results equal
unchunked ones. Keys and values are projected for anchor rows only: the other rows' own keys
would be thrown away.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import Attention, AttnProcessor2_0


@dataclass(frozen=True)
class RowGroup:
    """Rows [start, stop) of the UNet batch attend to anchor `slot`, whose own row is `anchor_row`
    (an index into the batch) or None when the anchor was in an earlier chunk of this step."""

    start: int
    stop: int
    slot: int
    anchor_row: int | None


@dataclass
class FrameBatch:
    """What the cross-frame processors need to know about the current UNet call."""

    groups: list[RowGroup] = field(default_factory=list)
    # Per self-attention layer: anchor keys and values by slot, kept for the chunks after the
    # first one of a denoising step. {layer: {slot: (key, value)}}, each (1, tokens, inner).
    anchor_kv: dict[str, dict[int, tuple[torch.Tensor, torch.Tensor]]] = field(default_factory=dict)

    def new_step(self) -> None:
        self.anchor_kv.clear()


class CrossFrameAttnProcessor:
    """Self-attention to the anchor frame; cross-attention to the text is left unchanged."""

    def __init__(self, name: str, frames: FrameBatch):
        self.name = name
        self.frames = frames
        self.plain = AttnProcessor2_0()

    def __call__(
        self,
        attn: Attention,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        **kwargs,
    ) -> torch.Tensor:
        if encoder_hidden_states is not None or attention_mask is not None or not self.frames.groups:
            return self.plain(attn, hidden_states, encoder_hidden_states, attention_mask, temb)

        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)
        spatial = hidden_states.ndim == 4
        if spatial:
            b, c, h, w = hidden_states.shape
            hidden_states = hidden_states.view(b, c, h * w).transpose(1, 2)
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)

        query = attn.to_q(hidden_states)  # (batch, tokens, inner)
        batch, tokens, inner = query.shape
        head_dim = inner // attn.heads
        cache = self.frames.anchor_kv.setdefault(self.name, {})
        out = torch.empty_like(query)
        for g in self.frames.groups:
            if g.anchor_row is not None:
                anchor = hidden_states[g.anchor_row : g.anchor_row + 1]
                cache[g.slot] = (attn.to_k(anchor), attn.to_v(anchor))
            key, value = cache[g.slot]  # (1, tokens, inner)
            # All rows of a group share one key/value set, so their queries can be laid end to
            # end as one long sequence: one attention call, no copies of the anchor's keys.
            q = query[g.start : g.stop].reshape(1, -1, attn.heads, head_dim).transpose(1, 2)
            k = key.view(1, -1, attn.heads, head_dim).transpose(1, 2)
            v = value.view(1, -1, attn.heads, head_dim).transpose(1, 2)
            if attn.norm_q is not None:
                q = attn.norm_q(q)
            if attn.norm_k is not None:
                k = attn.norm_k(k)
            o = F.scaled_dot_product_attention(q, k, v)  # (1, heads, rows * tokens, head_dim)
            out[g.start : g.stop] = o.transpose(1, 2).reshape(g.stop - g.start, tokens, inner)

        hidden_states = attn.to_out[1](attn.to_out[0](out))
        if spatial:
            hidden_states = hidden_states.transpose(-1, -2).reshape(b, c, h, w)
        if attn.residual_connection:
            hidden_states = hidden_states + residual
        return hidden_states / attn.rescale_output_factor


def is_self_attention(name: str) -> bool:
    # diffusers names a transformer block's self-attention "attn1" and its cross-attention "attn2".
    return name.endswith("attn1.processor")


def install_cross_frame_attention(model: torch.nn.Module, frames: FrameBatch, prefix: str = "") -> dict:
    """Put cross-frame processors on `model`'s self-attention layers; returns the old processors
    so that `restore_attention` can put a cached model back as it was. `prefix` keeps the cached
    anchor keys of two networks (UNet and ControlNet) with the same layer names apart."""
    previous = dict(model.attn_processors)
    model.set_attn_processor(
        {
            name: CrossFrameAttnProcessor(prefix + name, frames) if is_self_attention(name) else proc
            for name, proc in previous.items()
        }
    )
    return previous


def restore_attention(model: torch.nn.Module, previous: dict) -> None:
    model.set_attn_processor(previous)
