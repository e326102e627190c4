"""Cross-frame attention (ALGORITHM.md section 2) as a diffusers attention processor.

In every self-attention layer each frame's queries attend to the keys and values of the anchor
(frame 0 of its own video, in its own guidance branch): Attn(Q^k, K^0, V^0). The processor does
not guess the batch layout from its size; the sampler describes every UNet call with a
`FrameBatch`: which contiguous rows share an anchor, and where that anchor's row is, if it is
in this call at all. When a chunk of frames does not contain its anchor, the anchor's keys and
values recorded earlier in the same denoising step are used, so chunked results equal
unchunked ones. In the paper's mode keys and values are projected for anchor rows only: the
other rows' own keys would be thrown away.

`window` > 0 adds the previous `window` frames to what each frame attends to (window 1 is
sparse-causal attention: frame 0 and the previous frame). The last frames of a chunk are kept
for the next chunk, so this stays chunk-exact too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import Attention, AttnProcessor2_0

from .token_merge import merge_tokens


@dataclass(frozen=True)
class RowGroup:
    """Rows [start, stop) of the UNet batch are consecutive frames of one video in one guidance
    branch, beginning with frame `first_frame`; they attend to anchor `slot`, whose own row is
    `anchor_row` (an index into the batch) or None when it was in an earlier chunk of this step."""

    start: int
    stop: int
    slot: int
    anchor_row: int | None
    first_frame: int = 0
    # Prompt travel: a second anchor, and per row how much of the attention goes to it.
    next_slot: int | None = None
    next_weights: tuple[float, ...] | None = None


@dataclass
class FrameBatch:
    """What the cross-frame processors need to know about the current UNet call."""

    groups: list[RowGroup] = field(default_factory=list)
    window: int = 0  # earlier frames each frame also attends to (0: the paper, anchor only)
    merge: float = 0.0  # > 0: share of a group's tokens merged before attention (token_merge.py)
    # Per layer and slot, kept between the chunks of one denoising step: the anchor's keys and
    # values (1, tokens, inner) and, with a window, those of the last `window` frames seen.
    anchor_kv: dict[str, dict[int, tuple[torch.Tensor, torch.Tensor]]] = field(default_factory=dict)
    recent_kv: dict[str, dict[int, tuple[torch.Tensor, torch.Tensor]]] = field(default_factory=dict)

    def new_step(self) -> None:
        self.anchor_kv.clear()
        self.recent_kv.clear()


class CrossFrameAttnProcessor:
    """Self-attention to the anchor frame (and a window of earlier frames); cross-attention to
    the text is left unchanged."""

    def __init__(self, name: str, frames: FrameBatch):
        self.name = name
        self.frames = frames
        self.plain = AttnProcessor2_0()
        self.weights: dict[tuple, torch.Tensor] = {}

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

        groups = self.frames.groups
        if self.frames.merge and not self.frames.window and all(g.next_slot is None for g in groups):
            hidden_states = self._merged(attn, hidden_states, groups)
        else:
            query = attn.to_q(hidden_states)  # (batch, tokens, inner)
            if not self.frames.window and _uniform(groups):
                out = self._all_at_once(attn, hidden_states, query, groups)
            else:
                out = torch.empty_like(query)
                for g in groups:
                    if self.frames.window:
                        out[g.start : g.stop] = self._windowed(attn, hidden_states, query, g)
                    else:
                        out[g.start : g.stop] = self._anchor_only(attn, hidden_states, query, g)
            hidden_states = attn.to_out[1](attn.to_out[0](out))
        if spatial:
            hidden_states = hidden_states.transpose(-1, -2).reshape(b, c, h, w)
        if attn.residual_connection:
            hidden_states = hidden_states + residual
        return hidden_states / attn.rescale_output_factor

    def _all_at_once(self, attn, hidden_states, query, groups: list[RowGroup]) -> torch.Tensor:
        """The common case in one go: groups of equal size that tile the batch, one anchor each.
        One projection for all anchors in the batch and one attention call for all groups,
        instead of a pair per group (it matters where per-call overhead does: small models,
        short steps)."""
        key, value = self._anchors(attn, hidden_states, groups)
        n, size = len(groups), groups[0].stop - groups[0].start
        _, tokens, inner = query.shape
        return _grouped(attn, query.reshape(n, size * tokens, inner), key, value).reshape(n * size, tokens, inner)

    def _merged(self, attn, hidden_states, groups: list[RowGroup]) -> torch.Tensor:
        """Token merging (token_merge.py) around the anchor attention: each group's tokens
        merged, projected, attended and projected out, then given back to every frame; groups
        of one size in one go. The layer's output before its residual.  # (batch, tokens, c)"""
        key, value = self._anchors(attn, hidden_states, groups)
        if _uniform(groups):
            return self._merged_rows(attn, hidden_states, key, value, len(groups))
        return torch.cat([self._merged_rows(attn, hidden_states[g.start : g.stop], key[i : i + 1], value[i : i + 1], 1)
                          for i, g in enumerate(groups)])  # the groups tile the batch in order

    def _merged_rows(self, attn, rows: torch.Tensor, key: torch.Tensor, value: torch.Tensor, n: int) -> torch.Tensor:
        """`rows` (n groups of equal size, one after another) merged, attended to the n anchors."""
        batch, tokens, c = rows.shape
        merged, where = merge_tokens(rows.reshape(n, batch // n * tokens, c), tokens, self.frames.merge)
        out = attn.to_out[1](attn.to_out[0](_grouped(attn, attn.to_q(merged), key, value)))
        return where.unmerge(out).reshape(batch, tokens, -1)

    def _anchors(self, attn, hidden_states, groups: list[RowGroup]) -> tuple[torch.Tensor, torch.Tensor]:
        """Every group's anchor keys and values, projected for the anchors in this batch and
        recorded for the later chunks of the step.  # each (groups, tokens, inner)"""
        cache = self.frames.anchor_kv.setdefault(self.name, {})
        present = [g for g in groups if g.anchor_row is not None]
        if present:
            # Slices, not a list index: indexing a GPU tensor with a Python list copies the list to
            # the device, and that copy waits for the stream: 16 stalls per UNet call.
            rows = torch.cat([hidden_states[g.anchor_row : g.anchor_row + 1] for g in present])
            keys, values = attn.to_k(rows), attn.to_v(rows)
            for i, g in enumerate(present):
                cache[g.slot] = (keys[i : i + 1], values[i : i + 1])
        key = torch.cat([cache[g.slot][0] for g in groups])  # (groups, tokens, inner)
        value = torch.cat([cache[g.slot][1] for g in groups])
        return key, value

    def _anchor(self, attn, hidden_states, g: RowGroup, keys=None, values=None):
        cache = self.frames.anchor_kv.setdefault(self.name, {})
        if g.anchor_row is not None:
            if keys is None:
                anchor = hidden_states[g.anchor_row : g.anchor_row + 1]
                cache[g.slot] = (attn.to_k(anchor), attn.to_v(anchor))
            else:  # the anchor is the group's first row, already projected
                cache[g.slot] = (keys[:1], values[:1])
        return cache[g.slot]  # (1, tokens, inner)

    def _anchor_only(self, attn, hidden_states, query, g: RowGroup) -> torch.Tensor:
        key, value = self._anchor(attn, hidden_states, g)
        rows, tokens, inner = query[g.start : g.stop].shape
        out = _attend(attn, query[g.start : g.stop], key, value)
        if g.next_slot is None:
            return out
        next_key, next_value = self.frames.anchor_kv[self.name][g.next_slot]
        u = self._weights(g.next_weights, out)[:, None, None]
        return (1 - u) * out + u * _attend(attn, query[g.start : g.stop], next_key, next_value)

    def _weights(self, weights: tuple[float, ...], like: torch.Tensor) -> torch.Tensor:
        """The blend weights on the device, copied there once per job rather than at every step
        (a host-to-device copy waits for the stream)."""
        key = (weights, like.device, like.dtype)
        if key not in self.weights:
            self.weights[key] = torch.tensor(weights, device=like.device, dtype=like.dtype)
        return self.weights[key]

    def _windowed(self, attn, hidden_states, query, g: RowGroup) -> torch.Tensor:
        window = self.frames.window
        keys, values = attn.to_k(hidden_states[g.start : g.stop]), attn.to_v(hidden_states[g.start : g.stop])
        anchor_k, anchor_v = self._anchor(attn, hidden_states, g, keys if g.anchor_row == g.start else None,
                                          values if g.anchor_row == g.start else None)
        recent = self.frames.recent_kv.setdefault(self.name, {})
        before_k, before_v = recent.get(g.slot, (keys[:0], values[:0]))  # frames just before this chunk
        seq_k, seq_v = torch.cat([before_k, keys]), torch.cat([before_v, values])  # (carried + rows, tokens, inner)
        recent[g.slot] = (seq_k[-window:], seq_v[-window:])

        rows, tokens, inner = keys.shape
        carried = len(before_k)
        frame = torch.arange(rows, device=keys.device) + g.first_frame  # frame index of each row
        offsets = torch.arange(window, 0, -1, device=keys.device)  # look back window .. 1 frames
        earlier = frame[:, None] - offsets[None, :]  # (rows, window) frame indices
        valid = earlier >= 1  # frame 0 is the anchor, attended to already
        index = (earlier - g.first_frame + carried).clamp(min=0)  # into seq
        k = torch.cat([anchor_k.expand(rows, -1, -1), seq_k[index].reshape(rows, window * tokens, inner)], dim=1)
        v = torch.cat([anchor_v.expand(rows, -1, -1), seq_v[index].reshape(rows, window * tokens, inner)], dim=1)
        mask = torch.cat([torch.ones(rows, 1, dtype=torch.bool, device=keys.device), valid], dim=1)
        mask = mask.repeat_interleave(tokens, dim=1)[:, None, None, :]  # (rows, 1, 1, keys)
        return _grouped(attn, query[g.start : g.stop], k, v, mask)


def _uniform(groups: list[RowGroup]) -> bool:
    """Groups of one size, one after another from row 0, none blending two anchors."""
    if not groups or any(g.next_slot is not None for g in groups):
        return False
    size = groups[0].stop - groups[0].start
    return all(g.start == i * size and g.stop - g.start == size for i, g in enumerate(groups))


def _attend(attn, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """Every query row against one key/value set. The rows share it, so their queries are laid
    end to end as one long sequence: one attention call, no copies of the anchor's keys.
    query: (rows, tokens, inner); key, value: (1, tokens, inner)"""
    rows, tokens, inner = query.shape
    return _grouped(attn, query.reshape(1, rows * tokens, inner), key, value).reshape(rows, tokens, inner)


def _grouped(attn, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
             mask: torch.Tensor | None = None) -> torch.Tensor:
    """Attention of n query sequences, each to its own keys and values, in one call.
    query: (n, queries, inner); key, value: (n, keys, inner); mask: boolean, broadcast to
    (n, heads, queries, keys) -> (n, queries, inner)"""
    q = _heads(attn, query)
    o = F.scaled_dot_product_attention(*_normed(attn, q, _heads(attn, key)), _heads(attn, value), attn_mask=mask)
    return _merge(o)


def _heads(attn, x: torch.Tensor) -> torch.Tensor:
    """(batch, tokens, inner) -> (batch, heads, tokens, head_dim)"""
    batch, tokens, inner = x.shape
    return x.view(batch, tokens, attn.heads, inner // attn.heads).transpose(1, 2)


def _merge(x: torch.Tensor) -> torch.Tensor:
    """(batch, heads, tokens, head_dim) -> (batch, tokens, inner)"""
    batch, heads, tokens, head_dim = x.shape
    return x.transpose(1, 2).reshape(batch, tokens, heads * head_dim)


def _normed(attn, q: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if attn.norm_q is not None:
        q = attn.norm_q(q)
    if attn.norm_k is not None:
        k = attn.norm_k(k)
    return q, k


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
