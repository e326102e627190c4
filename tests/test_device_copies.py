"""No host data goes to the device inside the denoising loop: on a GPU such a copy waits for
every queued kernel, and in the cross-frame processors it did so 16 times per UNet call (the
engine's UNet forward measured 58.6 ms against diffusers' 52.8 ms on an H100; RESULTS.md).
Checked on the meta device, where a copy shows up as an operator taking a CPU tensor."""

from __future__ import annotations

import torch
from diffusers.models.attention_processor import Attention
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode

from t2vz_desktop.engine.attention import CrossFrameAttnProcessor, FrameBatch, RowGroup
from t2vz_desktop.engine.chunks import Conditioning, VideoLayout, predict_noise

META = torch.device("meta")


class HostCopies(TorchDispatchMode):
    """Records host data going to the device (all the work here is on the meta device):
    operators taking a CPU tensor of one element or more (`.to(device)` of a CPU tensor), and
    `torch.tensor(data, device=...)`, which builds on the host and copies outside the
    dispatcher. Indexing with a Python list converts the list outside both, so it is not seen:
    the code under test uses slices or tensors made on the device instead."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []
        self.tensor = torch.tensor

    def __enter__(self):
        def tensor(data, *args, device=None, **kwargs):
            if device is not None and torch.device(device).type != "cpu":
                self.found.append(f"torch.tensor({data!r:.40}, device={device})")
            return self.tensor(data, *args, device=device, **kwargs)

        torch.tensor = tensor
        return super().__enter__()

    def __exit__(self, *exc):
        torch.tensor = self.tensor
        return super().__exit__(*exc)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        seen = [t for t in pytree.tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
        if any(t.device.type == "cpu" and t.dim() > 0 for t in seen):
            self.found.append(str(func))
        return func(*args, **(kwargs or {}))


def test_the_detector_sees_host_data():
    x = torch.empty(8, 4, device=META)
    with HostCopies() as copies:
        x[0:1], x[torch.arange(2, device=META)], torch.full((3,), True, device=META)
    assert copies.found == []
    for make in (lambda: torch.tensor([0, 4], device=META), lambda: torch.tensor([0, 4]).to(META)):
        with HostCopies() as copies:
            x[make()]
        assert copies.found, "a host-to-device copy went unseen"
    assert torch.tensor is copies.tensor


def attention_layer():
    with META:
        return Attention(query_dim=32, heads=2, dim_head=16)


def call_twice(groups: list[RowGroup], window: int = 0, rows: int = 8) -> list[str]:
    """Copies made by the second of two calls (the first may set up per-job tensors)."""
    attn = attention_layer()
    frames = FrameBatch(groups=groups, window=window)
    processor = CrossFrameAttnProcessor("layer", frames)
    hidden = torch.empty(rows, 16, 32, device=META)
    frames.new_step()
    processor(attn, hidden)
    with HostCopies() as copies:
        processor(attn, hidden)
    return copies.found


def test_cross_frame_attention_makes_no_host_copies():
    two_videos = [RowGroup(0, 4, slot=0, anchor_row=0), RowGroup(4, 8, slot=1, anchor_row=4)]
    assert call_twice(two_videos) == []
    assert call_twice(two_videos, window=2) == []
    # Prompt travel: key rows first, then frames blending two anchors.
    keys = [RowGroup(0, 1, slot=0, anchor_row=0), RowGroup(1, 2, slot=1, anchor_row=1)]
    between = [RowGroup(2, 8, slot=0, anchor_row=None, next_slot=1, next_weights=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6))]
    assert call_twice(keys + between) == []


def test_a_guided_step_over_chunks_makes_no_host_copies():
    layout = VideoLayout(videos=2, frames=4)
    text = Conditioning(cond=torch.empty(2, 7, 32, device=META), uncond=torch.empty(2, 7, 32, device=META),
                        guidance=7.5)
    x = torch.empty(8, 4, 8, 8, device=META)
    t = torch.tensor(500, device=META)
    for chunk in (0, 3):
        frames = FrameBatch()
        with HostCopies() as copies:
            out = predict_noise(lambda x, t, emb, frame, img, extra: x * 2, x, t, layout, text, chunk, frames)
        assert out.shape == x.shape and copies.found == [], (chunk, copies.found)
