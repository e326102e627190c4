"""Token merging across a chunk's frames in cross-frame attention, a fast mode (ToMe: Bolya and
Hoffman, "Token Merging for Fast Stable Diffusion", 2023; across frames as VidToMe: Li et al.,
CVPR 2024).

Neighbouring frames of a video show mostly the same things, so many of their tokens are near
copies. Before a self-attention layer, the tokens of one video's frames in a UNet call (one row
group) are split into destinations (every `DST_STRIDE`-th token of the group's first frame) and
sources (all the others); each source finds its most similar destination (cosine of the hidden
states, ToMe's bipartite soft matching), and the `ratio` share of all tokens whose match is best
are averaged into their destinations. Attention (query projection, attention to the anchor,
output projection) runs on what is left; every merged token then takes its destination's
output. Merged tokens share one output, so they are the same in every frame that had them: the
method's own cross-frame consistency, made cheaper. It changes the pixels (a fast mode), and
since destinations come from a call's first frame, results depend on the chunk size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

DEFAULT_RATIO = 0.5  # ToMe for SD's recommended merge share
DST_STRIDE = 4  # ToMe for SD takes one destination per 2x2 patch: a quarter of a frame's tokens


@dataclass
class Merged:
    """Which of a group's tokens went where: rebuilds the full token set from the merged one."""

    order: torch.Tensor  # (groups, n): for every original token, its row in the merged set

    def unmerge(self, merged: torch.Tensor) -> torch.Tensor:
        """(groups, kept, c) -> (groups, n, c): every token gets the output of the one it became."""
        return _rows(merged, self.order)


def merge_tokens(x: torch.Tensor, tokens_per_frame: int, ratio: float) -> tuple[torch.Tensor, Merged]:
    """Merge the `ratio` share of each group's tokens into destinations of its first frame.

    x: (groups, n, c) with n = frames * tokens_per_frame, the group's frames one after another.
    Returns the merged tokens (groups, n - r, c), destinations first, with r = round(ratio * n)
    (at most the number of sources), and the Merged map that undoes it.
    """
    g, n, c = x.shape
    dst_index, src_index = _split(n, tokens_per_frame, x.device)
    d, s = len(dst_index), len(src_index)
    r = min(int(round(ratio * n)), s)
    if r == 0:
        return x, Merged(torch.arange(n, device=x.device).expand(g, n))
    src, dst = x[:, src_index].float(), x[:, dst_index].float()
    score, best = (F.normalize(src, dim=-1) @ F.normalize(dst, dim=-1).transpose(1, 2)).max(dim=-1)  # (g, s)
    ranked = score.argsort(dim=-1, descending=True)
    merged_src, kept_src = ranked[:, :r], ranked[:, r:]  # positions among the sources
    target = best.gather(1, merged_src)  # (g, r): destination of each merged source
    # Average each destination with the sources merged into it (sizes count, as in ToMe).
    total = dst.scatter_add(1, target[..., None].expand(-1, -1, c), _rows(src, merged_src))
    count = torch.ones(g, d, device=x.device).scatter_add_(1, target, torch.ones_like(target, dtype=torch.float))
    dst = (total / count[..., None]).to(x.dtype)
    kept = _rows(src, kept_src).to(x.dtype)  # back from float32: exact
    # Where each original token's output is in [destinations, kept sources].
    order = torch.empty(g, n, dtype=torch.long, device=x.device)
    order[:, dst_index] = torch.arange(d, device=x.device)
    src_rows = torch.empty(g, s, dtype=torch.long, device=x.device)
    src_rows.scatter_(1, kept_src, torch.arange(d, d + s - r, device=x.device).expand(g, -1))
    src_rows.scatter_(1, merged_src, target)
    order[:, src_index] = src_rows
    return torch.cat([dst, kept], dim=1), Merged(order)


def _rows(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """x[g, index[g, i]] for every group g.  x: (groups, n, c); index: (groups, m) -> (groups, m, c)"""
    return x.gather(1, index[..., None].expand(-1, -1, x.shape[-1]))


_SPLITS: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}


def _split(n: int, tokens_per_frame: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Destination and source token indices of a group of n tokens, made once per layout: made
    on a GPU at every call, the boolean select would wait for the device each time."""
    key = (n, tokens_per_frame, str(device))
    if key not in _SPLITS:
        is_dst = torch.zeros(n, dtype=torch.bool)
        is_dst[:tokens_per_frame:DST_STRIDE] = True
        _SPLITS[key] = (is_dst.nonzero().squeeze(1).to(device), (~is_dst).nonzero().squeeze(1).to(device))
    return _SPLITS[key]
