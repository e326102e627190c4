"""Background smoothing (paper section 3.3) with a foreground mask that needs no extra model.

The paper splits each frame into a salient object and background with a saliency detector and
pulls the background toward the warped anchor: x^k <- M^k x^k + (1 - M^k)(a W_k(x^0) + (1 - a) x^k).
The official code never ran it (its detector is missing). Here the mask comes from the UNet's
own cross-attention: how much frame 0's pixels attend to the prompt's subject words, in the
low-resolution layers where those maps are object-shaped (a model may name its own layers in
t2vz.json's "subject_layers"). SDPA returns no attention weights, so a probe processor computes
them explicitly for the anchor rows only; the mask is then warped to every frame with the
motion field, like the latents themselves.

Attention maps are coarse (8x8 or 16x16 cells) and blurred across the object's edge, so by
default they only say which object is meant: the pixels they mark most strongly seed a
two-cluster split of the anchor's own predicted clean latent (subject vs the rest, by latent
colour), which follows the object's outline at latent resolution ("refined"); of the two
clusters, the subject is the one the background surrounds.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import Attention

from .attention import FrameBatch
from .noise_schedule import estimate_x0
from .options import ANCHOR, Option, Run

# Words that describe where or how, not what: left out of the default subject.
_SPLIT = re.compile(r"\b(?:on|in|at|with|under|over|near|by|against|behind|above|below|inside|from)\b|[,.;:]")
_ARTICLES = {"a", "an", "the", "some", "of", "and"}


def default_subject(prompt: str) -> list[str]:
    """The words before the first preposition, without articles: "a red circle on a blue
    background" -> ["red", "circle"]; "a horse galloping on a street" -> ["horse", "galloping"]."""
    head = _SPLIT.split(prompt.lower(), maxsplit=1)[0]
    words = [w for w in re.findall(r"[\w'-]+", head) if w not in _ARTICLES]
    return words or re.findall(r"[\w'-]+", prompt.lower())[:1]


def subject_token_positions(tokenizer, prompt: str, words: list[str]) -> list[int]:
    """Positions in the padded prompt where the tokens of `words` sit."""
    ids = tokenizer(prompt, truncation=True, max_length=tokenizer.model_max_length)["input_ids"]
    positions: list[int] = []
    for word in words:
        sub = tokenizer(word, add_special_tokens=False)["input_ids"]
        for start in range(len(ids) - len(sub) + 1):
            if sub and ids[start : start + len(sub)] == sub:
                positions.extend(range(start, start + len(sub)))
                break
    return sorted(set(positions))


@dataclass
class SubjectMaps:
    """Accumulated attention of anchor pixels to the subject tokens, per slot (video)."""

    tokens: dict[int, list[int]]  # slot -> token positions of that slot's prompt
    latent_size: tuple[int, int]
    refine: bool = False  # outline from the anchor's predicted latent (refine_with_latent)
    latents: dict[int, torch.Tensor] = field(default_factory=dict)  # slot -> anchor's predicted x0 (c, h, w)
    sums: dict[int, torch.Tensor] = field(default_factory=dict)  # slot -> (h, w)
    counts: dict[int, int] = field(default_factory=dict)

    def add(self, slot: int, probs: torch.Tensor) -> None:
        """probs: (tokens_in_layer,) attention to the subject, for one anchor row of one layer."""
        n = probs.shape[0]
        h0, w0 = self.latent_size
        scale = math.sqrt(h0 * w0 / n)
        side = (round(h0 / scale), round(w0 / scale))
        grid = probs.float().reshape(1, 1, *side)
        up = F.interpolate(grid, size=self.latent_size, mode="bilinear", align_corners=False)[0, 0].cpu()
        self.sums[slot] = self.sums.get(slot, 0) + up / up.max().clamp(min=1e-8)
        self.counts[slot] = self.counts.get(slot, 0) + 1

    def mask(self, slot: int) -> torch.Tensor | None:
        """1 on the subject, 0 on the background, soft at the edge.  # (h, w)"""
        if slot not in self.sums:
            return None
        m = self.sums[slot] / self.counts[slot]
        m = (m - m.min()) / (m.max() - m.min()).clamp(min=1e-8)
        if self.refine and slot in self.latents:
            return refine_with_latent(m, self.latents[slot].float().cpu())
        # Object pixels attend to the subject several times more than background pixels; a
        # threshold at 40% of the range separates them on demo-model images.
        return ((m - 0.4) / 0.2).clamp(0, 1)


def refine_with_latent(attention: torch.Tensor, latent: torch.Tensor, seed: float = 0.7, rounds: int = 3) -> torch.Tensor:
    """Foreground mask (h, w) in [0, 1]: two-means clustering of the latent's pixels (c, h, w),
    started from the pixels where the attention map (h, w, in [0, 1]) is at least `seed`; the
    subject is the cluster with less of its area on the frame's edge. Soft where a pixel is
    about as close to both clusters' means."""
    pixels = latent.flatten(1)  # (c, h * w)
    fg = attention.flatten() >= seed
    near_fg = near_bg = None
    for _ in range(rounds):
        if fg.all() or not fg.any():
            break
        mean_fg, mean_bg = pixels[:, fg].mean(1, keepdim=True), pixels[:, ~fg].mean(1, keepdim=True)
        near_fg, near_bg = ((pixels - mean_fg) ** 2).sum(0), ((pixels - mean_bg) ** 2).sum(0)
        fg = near_fg < near_bg
    if near_fg is None or fg.all() or not fg.any():  # nothing to split: the attention map alone
        return ((attention - 0.4) / 0.2).clamp(0, 1)
    # Which cluster is the subject: the attention only seeded the split, and on some images the
    # subject words' maps light the background more than the object, so the clusters settle the
    # other way round. A scene's background is what surrounds it: the subject is the cluster
    # with less of its area on the frame's edge (the boundary prior of saliency detection).
    edge = torch.zeros(attention.shape, dtype=torch.bool)
    edge[0], edge[-1], edge[:, 0], edge[:, -1] = True, True, True, True
    edge = edge.flatten()
    if (edge & fg).sum() / fg.sum() > (edge & ~fg).sum() / (~fg).sum():
        near_fg, near_bg = near_bg, near_fg
    share = near_bg / (near_fg + near_bg).clamp(min=1e-8)  # 0.5 on the boundary between the clusters
    return ((share - 0.4) / 0.2).clamp(0, 1).reshape(attention.shape)


def subject_attention(attn: Attention, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor,
                      tokens: list[int]) -> torch.Tensor:
    """Each pixel's attention to the text positions `tokens`, summed, averaged over heads.
    SDPA does not return its probabilities, so they are computed here.  # (rows, pixels)"""
    q = attn.to_q(hidden_states)  # (rows, pixels, inner)
    k = attn.to_k(encoder_hidden_states)  # (rows, text tokens, inner)
    rows, heads = q.shape[0], attn.heads
    d = q.shape[-1] // heads
    q = q.view(rows, -1, heads, d).transpose(1, 2)
    k = k.view(rows, -1, heads, d).transpose(1, 2)
    probs = torch.softmax(q @ k.transpose(-1, -2) * attn.scale, dim=-1)  # (rows, heads, pixels, text)
    return probs[..., tokens].sum(-1).mean(1)


class SubjectProbe:
    """Cross-attention processor that also records anchor rows' attention to subject tokens."""

    def __init__(self, inner, frames: FrameBatch, maps: SubjectMaps, max_tokens: int):
        self.inner, self.frames, self.maps, self.max_tokens = inner, frames, maps, max_tokens

    def __call__(self, attn: Attention, hidden_states, encoder_hidden_states=None, attention_mask=None,
                 temb=None, **kwargs):
        if encoder_hidden_states is not None and hidden_states.shape[1] <= self.max_tokens:
            for g in self.frames.groups:
                tokens = self.maps.tokens.get(g.slot)
                if g.anchor_row is None or not tokens:
                    continue
                row = slice(g.anchor_row, g.anchor_row + 1)
                self.maps.add(g.slot, subject_attention(attn, hidden_states[row], encoder_hidden_states[row], tokens)[0])
        return self.inner(attn, hidden_states, encoder_hidden_states, attention_mask, temb)


def install_probes(unet, frames: FrameBatch, maps: SubjectMaps, layers: tuple[str, ...] | None = None) -> dict:
    """Probe the cross-attention layers whose names start with one of `layers` or, by default,
    those at a quarter of the latent's pixels or fewer; returns the processors as they were."""
    previous = dict(unet.attn_processors)
    h, w = maps.latent_size
    chosen = [n for n in previous if n.endswith("attn2.processor") and (layers is None or n.startswith(tuple(layers)))]
    if layers is not None and not chosen:
        raise ValueError(f"none of the model's cross-attention layers starts with {list(layers)}")
    limit = h * w // 4 if layers is None else h * w  # named layers are read at any resolution
    unet.set_attn_processor({
        name: SubjectProbe(p, frames, maps, max_tokens=limit) if name in chosen else p for name, p in previous.items()
    })
    return previous


def blend_background(x: torch.Tensor, anchor_warped: torch.Tensor, masks: torch.Tensor, strength: float) -> torch.Tensor:
    """The paper's formula: keep the subject, pull the background toward the warped anchor.
    x, anchor_warped: (rows, c, h, w); masks: (rows, 1, h, w) with 1 on the subject."""
    background = strength * anchor_warped + (1 - strength) * x
    return masks * x + (1 - masks) * background


class BackgroundSmoothing(Option):
    """Hooks `install` (probes on the UNet's cross-attention), `after_model` (the refined mask's
    anchor latents), `after_step` (the paper's blend, every frame from T) and `report` (the mask,
    for the preview)."""

    def __init__(self, run: Run):
        plan, self.run = run.plan, run
        self.branch = run.text.text_branch * run.videos  # slot of video i is branch * videos + i
        self.maps = SubjectMaps({self.branch + i: t for i, t in enumerate(plan.subject_tokens)},
                                run.latent_shape[1:], refine=plan.subject_mask == "refined")
        self._restore = None

    def install(self, unet, frames) -> None:
        self.unet = unet
        self._restore = install_probes(unet, frames, self.maps, self.run.plan.subject_layers)

    def remove(self) -> None:
        if self._restore is not None:
            self.unet.set_attn_processor(self._restore)

    def after_model(self, i, x, eps, phase):
        if not self.maps.refine:
            return
        # The anchors' predicted clean latents, where the mask's outline comes from. Anchor rows
        # are video-major in key order: each video's first key is every keys-th.
        every = len(self.run.plan.keys) if phase == ANCHOR else self.run.frames
        anchors = estimate_x0(self.run.scheduler, x[::every], eps[::every], i)
        self.maps.latents = {self.branch + j: anchors[j] for j in range(self.run.videos)}

    def masks(self) -> torch.Tensor | None:
        """Frame 0's foreground mask, moved to every frame.  # (videos * frames, 1, h, w)"""
        found = [self.maps.mask(self.branch + i) for i in range(self.run.videos)]
        if any(m is None for m in found):
            return None
        return self.run.spread(torch.stack(found)[:, None].to(self.run.device))

    def report(self, i, x, eps, phase):
        return {"subject_mask": self.masks()} if self.run.previews else {}

    def after_step(self, i, x, phase):
        """Pull each later frame's background toward the warped anchor (paper section 3.3)."""
        masks = self.masks() if phase != ANCHOR else None
        if masks is None:
            return x
        m = self.run.frames
        anchor_warped = self.run.spread(x[::m])
        later = torch.arange(self.run.videos * m, device=x.device) % m != 0
        x = x.clone()
        x[later] = blend_background(x[later], anchor_warped[later], masks[later], self.run.plan.background)
        return x
