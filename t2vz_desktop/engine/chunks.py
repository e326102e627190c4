"""Long videos in constant memory: one denoising step, evaluated a chunk of frames at a time.

Loop order (ALGORITHM.md, design notes): steps outer, chunks inner. The latents of every frame
stay in memory (a few KB each); the UNet sees `chunk_size` frames (times the guidance halves) at
once; the anchor's self-attention keys/values recorded in the first chunk serve the later ones.
The result therefore does not depend on the chunk size, and the anchor is never re-generated.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .attention import FrameBatch, RowGroup


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
    """Text embeddings per video (`cond`), and per video for the unconditional half when
    classifier-free guidance is on (`uncond`)."""

    cond: torch.Tensor  # (videos, tokens, dim)
    uncond: torch.Tensor | None  # (videos, tokens, dim) or None when guidance <= 1
    guidance: float


def chunk_bounds(rows: int, chunk_size: int) -> list[tuple[int, int]]:
    size = rows if chunk_size <= 0 else chunk_size
    return [(a, min(a + size, rows)) for a in range(0, rows, size)]


def _groups(layout: VideoLayout, start: int, stop: int, halves: int) -> list[RowGroup]:
    """Row groups of one chunk: per guidance half, per video in the chunk."""
    groups = []
    width = stop - start
    for half in range(halves):
        offset = half * width
        for video in range(start // layout.frames, (stop - 1) // layout.frames + 1):
            first = max(start, video * layout.frames)
            last = min(stop, (video + 1) * layout.frames)
            anchor = video * layout.frames
            anchor_row = offset + anchor - start if start <= anchor < stop else None
            slot = half * layout.videos + video
            groups.append(RowGroup(offset + first - start, offset + last - start, slot, anchor_row))
    return groups


@torch.no_grad()
def predict_noise(
    unet,
    model_input: torch.Tensor,  # (rows, c, h, w), already scaled by the scheduler
    t: torch.Tensor,
    layout: VideoLayout,
    text: Conditioning,
    chunk_size: int,
    frames: FrameBatch | None,
) -> torch.Tensor:
    """Guided model output for every row, computed chunk by chunk.  # (rows, c, h, w)"""
    halves = 1 if text.uncond is None else 2
    video_of_row = torch.arange(layout.rows, device=model_input.device) // layout.frames
    out = torch.empty_like(model_input)
    if frames is not None:
        frames.new_step()
    for start, stop in chunk_bounds(layout.rows, chunk_size):
        x = model_input[start:stop]
        emb = text.cond[video_of_row[start:stop]]
        if text.uncond is not None:
            x = torch.cat([x, x])
            emb = torch.cat([text.uncond[video_of_row[start:stop]], emb])
        if frames is not None:
            frames.groups = _groups(layout, start, stop, halves)
        pred = unet(x, t, encoder_hidden_states=emb, return_dict=False)[0]
        if text.uncond is not None:
            uncond, cond = pred.chunk(2)
            pred = uncond + text.guidance * (cond - uncond)
        out[start:stop] = pred
    if frames is not None:
        frames.groups = []
    return out
