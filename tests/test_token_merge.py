"""Token merging across frames (engine/token_merge.py): the merge map is exact where tokens are
copies, the processor with merging equals the plain one on a still video, and the job runs."""

import pytest
import torch
from diffusers.models.attention_processor import Attention

from t2vz_desktop.engine.attention import CrossFrameAttnProcessor, FrameBatch, RowGroup
from t2vz_desktop.engine.jobs import GenerationRequest, RequestError, run_generation
from t2vz_desktop.engine.token_merge import merge_tokens


def test_merging_copies_and_unmerging_gives_every_token_back():
    torch.manual_seed(0)
    frame = torch.randn(2, 16, 8)  # 2 groups, 16 tokens a frame
    x = frame.repeat(1, 4, 1)  # 4 identical frames: 12 sources are copies of a destination
    merged, where = merge_tokens(x, 16, 0.15)  # round(0.15 * 64) = 10 merged
    assert merged.shape == (2, 54, 8)
    assert torch.equal(where.unmerge(merged), x)


def test_merging_averages_what_it_joins_and_keeps_the_rest():
    x = torch.randn(1, 32, 4)
    merged, where = merge_tokens(x, 16, 0.5)
    assert merged.shape == (1, 16, 4)
    back = where.unmerge(merged)
    kept = (back == x).all(-1)
    assert kept.sum() >= 32 - 16 - 4  # destinations may change (averaged); unmerged sources never do
    same, _ = merge_tokens(x, 16, 0.0)
    assert torch.equal(same, x)


def test_processor_with_merging_equals_plain_on_a_still_video():
    torch.manual_seed(1)
    attn = Attention(query_dim=8, heads=2, dim_head=4)
    hidden = torch.randn(1, 16, 8).repeat(8, 1, 1)  # two groups (videos or branches) of 4 equal frames
    groups = [RowGroup(0, 4, 0, 0), RowGroup(4, 8, 1, 4)]
    plain = CrossFrameAttnProcessor("a", FrameBatch(groups=groups))(attn, hidden)
    merged = CrossFrameAttnProcessor("a", FrameBatch(groups=groups, merge=0.15))(attn, hidden)
    assert torch.allclose(merged, plain, atol=1e-6)
    moving = hidden + 0.3 * torch.randn_like(hidden)
    a = CrossFrameAttnProcessor("a", FrameBatch(groups=groups))(attn, moving)
    b = CrossFrameAttnProcessor("a", FrameBatch(groups=groups, merge=0.5))(attn, moving)
    assert not torch.allclose(a, b) and (a - b).abs().mean() < a.abs().mean()


def test_merge_runs_in_a_job_and_refuses_what_it_cannot_merge(tiny_folder, model_cache):
    base = dict(prompts=["a red circle"], model=str(tiny_folder), frames=5, width=32, height=32, steps=4,
                seed=1, chunk_size=0, device="cpu")
    exact = run_generation(GenerationRequest(**base), cache=model_cache).latents
    for speed in ("merge", "cache+merge"):
        fast = run_generation(GenerationRequest(**base, speed=speed), cache=model_cache).latents
        assert torch.isfinite(fast).all() and not torch.equal(fast, exact)
    for bad in ({"attention_window": 1}, {"cross_frame_attention": False}):
        with pytest.raises(RequestError, match="merges tokens"):
            GenerationRequest(**base, speed="merge", **bad).validate()
