"""Long videos in constant memory: one denoising step, evaluated a chunk of frames at a time.

Loop order (ALGORITHM.md, design notes): steps outer, chunks inner. The latents of every frame
stay in memory (a few KB each); the model sees `chunk_size` frames (times the guidance
branches) at once; the anchor's self-attention keys/values recorded in the first chunk serve
the later ones. The result therefore does not depend on the chunk size, and the anchor is
never re-generated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from .attention import FrameBatch, RowGroup

# A denoiser maps a batch of (already scaled) latents to model outputs. Besides the latents,
# timestep and text embeddings it gets, per batch row, the frame index within its video (so a
# guided mode can pick that frame's condition) and whether the row's guidance branch sees the
# source image (Instruct-Pix2Pix's third branch does not), and `extra`: further UNet inputs per
# row under diffusers' names (Conditioning.unet_inputs): SDXL's added_cond_kwargs, a
# guidance-distilled model's timestep_cond; empty for Stable Diffusion 1.x/2.x.
Denoiser = Callable[..., torch.Tensor]  # (x, t, emb, frames, with_image, extra) -> model output


def unet_denoiser(unet) -> Denoiser:
    def call(x, t, emb, frames, with_image, extra=None):
        return unet(x, t, encoder_hidden_states=emb, return_dict=False, **(extra or {}))[0]

    return call


@dataclass(frozen=True)
class VideoLayout:
    """Latent rows are videos one after another, frames in order: row = video * frames + frame.

    `keys` are the anchor frames of every video: (0,) for the paper's method; prompt travel
    gives each keyed prompt its own anchor, and frames between two keys attend to both.
    """

    videos: int
    frames: int
    keys: tuple[int, ...] = (0,)

    @property
    def rows(self) -> int:
        return self.videos * self.frames

    def anchor_of(self, frame: int) -> int:
        """Index into `keys` of the last key at or before `frame`."""
        return max(j for j, key in enumerate(self.keys) if key <= frame)


@dataclass
class Conditioning:
    """Text embeddings per video and how the guidance branches combine.

    Branches, in batch order: text-to-image with guidance > 1 runs (negative, prompt); with
    guidance <= 1 only (prompt), so each UNet call holds half the rows. Instruct-Pix2Pix
    (image_guidance set) runs (prompt + image, negative + image, negative without image), as
    diffusers' pipeline does. SDXL adds a pooled embedding per video and branch and the size
    ids (`prompts.size_ids`), which every row shares. A guidance-distilled model (an LCM, whose
    UNet has time_cond_proj_dim) runs one branch and takes the guidance scale as an embedding
    instead (`prompts.guidance_embedding`).
    """

    cond: torch.Tensor  # (videos, tokens, dim)
    uncond: torch.Tensor | None  # (videos, tokens, dim); None when guidance is off
    guidance: float
    image_guidance: float | None = None
    pooled: torch.Tensor | None = None  # (videos, pooled dim): SDXL's second text encoder, pooled
    pooled_uncond: torch.Tensor | None = None  # (videos, pooled dim), with guidance
    time_ids: torch.Tensor | None = None  # (6,): SDXL's size conditioning
    guidance_embedding: torch.Tensor | None = None  # (dim,): a guidance-distilled model's guidance

    def unet_inputs(self, text_rows: torch.Tensor) -> dict:
        """The UNet's inputs besides latents, timestep and text states for a batch of rows in
        every branch, in branch order, under diffusers' names: SDXL's added_cond_kwargs
        {"text_embeds": (branches * rows, pooled dim), "time_ids": (branches * rows, 6)} and a
        guidance-distilled model's timestep_cond (branches * rows, dim); {} for SD 1.x/2.x."""
        extra = {}
        rows = len(text_rows) * len(self.branches())
        if self.pooled is not None:
            if self.image_guidance is not None:
                raise ValueError("Instruct-Pix2Pix editing runs Stable Diffusion 1.x models only")
            pooled = [self.pooled] if self.pooled_uncond is None else [self.pooled_uncond, self.pooled]
            embeds = torch.cat([p[text_rows] for p in pooled])
            extra["added_cond_kwargs"] = {"text_embeds": embeds, "time_ids": self.time_ids.to(embeds).expand(rows, -1)}
        if self.guidance_embedding is not None:
            extra["timestep_cond"] = self.guidance_embedding.expand(rows, -1)
        return extra

    def branches(self) -> list[tuple[torch.Tensor, bool]]:
        if self.image_guidance is not None:
            return [(self.cond, True), (self.uncond, True), (self.uncond, False)]
        if self.uncond is None:
            return [(self.cond, True)]
        return [(self.uncond, True), (self.cond, True)]

    @property
    def text_branch(self) -> int:
        """Index of the branch that sees the prompt itself (for attention maps of its words)."""
        return 0 if self.image_guidance is not None or self.uncond is None else 1

    def combine(self, preds: list[torch.Tensor]) -> torch.Tensor:
        if self.image_guidance is not None:
            text, image, none = preds
            return none + self.guidance * (text - image) + self.image_guidance * (image - none)
        if len(preds) == 1:
            return preds[0]
        uncond, cond = preds
        return uncond + self.guidance * (cond - uncond)


def chunk_bounds(rows: int, chunk_size: int) -> list[tuple[int, int]]:
    size = rows if chunk_size <= 0 else chunk_size
    return [(a, min(a + size, rows)) for a in range(0, rows, size)]


def _groups(layout: VideoLayout, start: int, stop: int, branches: int) -> list[RowGroup]:
    """Row groups of one chunk: per guidance branch, per video in the chunk."""
    groups = []
    width = stop - start
    for branch in range(branches):
        offset = branch * width
        for video in range(start // layout.frames, (stop - 1) // layout.frames + 1):
            first = max(start, video * layout.frames)
            last = min(stop, (video + 1) * layout.frames)
            anchor = video * layout.frames
            anchor_row = offset + anchor - start if start <= anchor < stop else None
            slot = branch * layout.videos + video
            groups.append(RowGroup(offset + first - start, offset + last - start, slot, anchor_row, first - anchor))
    return groups


def _travel_groups(layout: VideoLayout, rows: list[int], branches: int) -> list[RowGroup]:
    """Row groups for a batch of arbitrary rows (sorted) when videos have several anchors: per
    branch, runs of rows of one video between the same two keys. A key row is its own anchor;
    rows between keys a and b blend their attention to a's and b's anchors by position."""
    keys, k = layout.keys, len(layout.keys)
    runs: list[tuple[int, int, tuple]] = []  # (first batch position, stop, what they share)
    for pos, row in enumerate(rows):
        video, frame = divmod(row, layout.frames)
        j = layout.anchor_of(frame)
        tag = (video, j, frame == keys[j])
        if runs and runs[-1][2] == tag and runs[-1][1] == pos and not tag[2]:
            runs[-1] = (runs[-1][0], pos + 1, tag)
        else:
            runs.append((pos, pos + 1, tag))
    groups = []
    for branch in range(branches):
        offset = branch * len(rows)
        for first, stop, (video, j, is_key) in runs:
            slot = branch * layout.videos * k + video * k + j
            if is_key:
                groups.append(RowGroup(offset + first, offset + stop, slot, offset + first))
                continue
            nxt = slot + 1 if j + 1 < k else None
            weights = None
            if nxt is not None:
                frames = [rows[p] % layout.frames for p in range(first, stop)]
                weights = tuple((f - keys[j]) / (keys[j + 1] - keys[j]) for f in frames)
            groups.append(RowGroup(offset + first, offset + stop, slot, None, 0, nxt, weights))
    return groups


def batches(layout: VideoLayout, chunk_size: int, only: frozenset[int] | None = None) -> list[list[int]]:
    """The rows that meet the model together at one step, in the order they must run.  # [[row, ...], ...]

    `only`: just these rows and every anchor, each in its whole-video batch (see predict_noise).

    With several keys every anchor comes first, so that its keys and values exist for the frames
    before it. Otherwise chunks never span two videos: a video then meets the model in the same
    calls (same batch sizes, same rows) in a batch as alone, and the model's kernels, whose
    rounding depends on the batch size, give it the same numbers: re-made alone, it is bit-exact.
    """
    if len(layout.keys) > 1:
        key_rows = [v * layout.frames + key for v in range(layout.videos) for key in layout.keys]
        others = [r for r in range(layout.rows) if r not in set(key_rows)]
        size = len(others) if chunk_size <= 0 else chunk_size
        every = [key_rows] + [others[a : a + size] for a in range(0, len(others), size) if others[a : a + size]]
    else:
        every = [list(range(v * layout.frames + a, v * layout.frames + b))
                 for v in range(layout.videos) for a, b in chunk_bounds(layout.frames, chunk_size)]
    if only is None:
        return every
    videos = {r // layout.frames for r in only}
    wanted = only | {v * layout.frames + key for v in videos for key in layout.keys}
    return [kept for batch in every if (kept := [r for r in batch if r in wanted])]


@torch.no_grad()
def denoise_rows(
    denoiser: Denoiser,
    x: torch.Tensor,  # (len(rows), c, h, w): those rows' latents, already scaled by the scheduler
    t: torch.Tensor,
    rows: list[int],
    layout: VideoLayout,
    text: Conditioning,
    text_rows: torch.Tensor,  # (len(rows),): each row's index into the text tables
    frames: FrameBatch | None,
) -> torch.Tensor:
    """Guided model output for one batch of rows at one step.  # (len(rows), c, h, w)

    Everything it reads is an argument: the rows' latents, the text tables, and in `frames` the
    anchors' keys/values recorded earlier in this step (and, with an attention window, the last
    frames' of the batch before), which it updates for the batches after it. So a batch can run
    in another process or machine given that state, and its result does not depend on what ran
    in the same call."""
    branches = text.branches()
    device, n = x.device, len(rows)
    frame_index = torch.tensor(rows, device=device) % layout.frames if not _is_run(rows) else \
        torch.arange(rows[0], rows[-1] + 1, device=device) % layout.frames
    if frames is not None:
        if len(layout.keys) > 1:
            frames.groups = _travel_groups(layout, rows, len(branches))
        else:
            frames.groups = _groups(layout, rows[0], rows[-1] + 1, len(branches))
    try:
        emb = torch.cat([e[text_rows] for e, _ in branches])
        with_image = torch.cat([torch.full((n,), img, dtype=torch.bool, device=device) for _, img in branches])
        pred = denoiser(x.repeat(len(branches), 1, 1, 1), t, emb, frame_index.repeat(len(branches)), with_image,
                        text.unet_inputs(text_rows))
        return text.combine(list(pred.chunk(len(branches))))
    finally:
        if frames is not None:
            frames.groups = []


def _is_run(rows: list[int]) -> bool:
    return rows == list(range(rows[0], rows[-1] + 1))


@torch.no_grad()
def predict_noise(
    denoiser: Denoiser,
    model_input: torch.Tensor,  # (rows, c, h, w), already scaled by the scheduler
    t: torch.Tensor,
    layout: VideoLayout,
    text: Conditioning,
    chunk_size: int,
    frames: FrameBatch | None,
    cond_rows: torch.Tensor | None = None,
    only: frozenset[int] | None = None,
) -> torch.Tensor:
    """Guided model output for every row, computed batch by batch (`batches`, `denoise_rows`).
    `cond_rows` picks each row's embeddings from the text tables (default: its video's).
    `only`: compute these rows and the anchors, in the batches they have in the whole video
    (an anchor whose batch holds none of them runs alone, for its keys and values); the other
    rows' outputs are 0, for a caller that keeps none of them.  # (rows, c, h, w)"""
    device = model_input.device
    if cond_rows is None:
        cond_rows = torch.arange(layout.rows, device=device) // layout.frames
    cond_rows = cond_rows.to(device)
    out = torch.empty_like(model_input) if only is None else torch.zeros_like(model_input)
    if frames is not None:
        frames.new_step()
    for batch in batches(layout, chunk_size, only):
        # A run of rows is a slice; only travel's scattered rows need an index tensor. Either
        # way no host data goes to the device here: such a copy waits for the GPU to finish.
        index = slice(batch[0], batch[-1] + 1) if _is_run(batch) else torch.tensor(batch, device=device)
        out[index] = denoise_rows(denoiser, model_input[index], t, batch, layout, text, cond_rows[index], frames)
    return out
