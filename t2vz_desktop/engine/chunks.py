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
# source image (Instruct-Pix2Pix's third branch does not).
Denoiser = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def unet_denoiser(unet) -> Denoiser:
    def call(x, t, emb, frames, with_image):
        return unet(x, t, encoder_hidden_states=emb, return_dict=False)[0]

    return call


@dataclass(frozen=True)
class VideoLayout:
    """Latent rows are videos one after another, frames in order: row = video * frames + frame."""

    videos: int
    frames: int

    @property
    def rows(self) -> int:
        return self.videos * self.frames


@dataclass
class Conditioning:
    """Text embeddings per video and how the guidance branches combine.

    Branches, in batch order: text-to-image with guidance > 1 runs (negative, prompt); with
    guidance <= 1 only (prompt). Instruct-Pix2Pix (image_guidance set) runs (prompt + image,
    negative + image, negative without image), as diffusers' pipeline does.
    """

    cond: torch.Tensor  # (videos, tokens, dim)
    uncond: torch.Tensor | None  # (videos, tokens, dim); None when guidance is off
    guidance: float
    image_guidance: float | None = None

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


@torch.no_grad()
def predict_noise(
    denoiser: Denoiser,
    model_input: torch.Tensor,  # (rows, c, h, w), already scaled by the scheduler
    t: torch.Tensor,
    layout: VideoLayout,
    text: Conditioning,
    chunk_size: int,
    frames: FrameBatch | None,
) -> torch.Tensor:
    """Guided model output for every row, computed chunk by chunk.  # (rows, c, h, w)"""
    branches = text.branches()
    rows = torch.arange(layout.rows, device=model_input.device)
    video_of_row, frame_of_row = rows // layout.frames, rows % layout.frames
    out = torch.empty_like(model_input)
    if frames is not None:
        frames.new_step()
    for start, stop in chunk_bounds(layout.rows, chunk_size):
        n = stop - start
        videos = video_of_row[start:stop]
        x = model_input[start:stop].repeat(len(branches), 1, 1, 1)
        emb = torch.cat([e[videos] for e, _ in branches])
        frame_index = frame_of_row[start:stop].repeat(len(branches))
        with_image = torch.tensor([img for _, img in branches], device=x.device).repeat_interleave(n)
        if frames is not None:
            frames.groups = _groups(layout, start, stop, len(branches))
        pred = denoiser(x, t, emb, frame_index, with_image)
        out[start:stop] = text.combine(list(pred.chunk(len(branches))))
    if frames is not None:
        frames.groups = []
    return out
