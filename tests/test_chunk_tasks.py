"""A chunk of a video made on its own (VideoPlan.frames_only): the groundwork of farm tasks
(issue 28). The chunk that holds the anchor is bit-exact; a later chunk, whose anchor now runs
alone for its keys and values (a batch of one instead of the chunk's), is within float rounding."""

from dataclasses import replace

import pytest
import torch

from t2vz_desktop.engine.jobs import GenerationRequest, ModelCache, text_tables, video_plan
from t2vz_desktop.engine.models import make_scheduler
from t2vz_desktop.engine.sampler import sample_video


@pytest.fixture(scope="module")
def loop(tiny_folder):
    cache = ModelCache()
    request = GenerationRequest(prompts=["a red circle", "a blue square"], model=str(tiny_folder), frames=8,
                                width=32, height=32, steps=5, seed=4, chunk_size=4, device="cpu")
    model, _ = cache.get(request)
    recipe = request.resolve(model.defaults, model.native_size)
    pipe, device = model.pipe, model.device
    text, plan = text_tables(pipe, recipe, device), video_plan(recipe, model, device)
    rows = []
    hook = pipe.unet.register_forward_pre_hook(lambda m, args: rows.append(args[0].shape[0]))

    def run(frames_only=None):
        rows.clear()
        scheduler = make_scheduler(recipe.scheduler, pipe.scheduler.config)
        latents = sample_video(pipe.unet, scheduler, text, replace(plan, frames_only=frames_only), device)
        return latents.reshape(2, 8, *latents.shape[1:]), sum(rows)

    yield run
    hook.remove()


def test_the_anchors_chunk_alone_is_bit_exact_and_a_later_chunk_within_rounding(loop):
    full, full_rows = loop()
    first, first_rows = loop((0, 4))
    later, later_rows = loop((4, 8))
    assert torch.equal(first[:, :4], full[:, :4])
    difference = (later[:, 4:8] - full[:, 4:8]).abs().max() / full.abs().max()
    assert 0 <= difference < 1e-5, difference  # relative to the largest latent
    assert max(first_rows, later_rows) < 0.7 * full_rows  # one of two chunks (and the anchors) ran


def test_chunks_made_apart_put_together_are_the_whole_video(loop):
    full, _ = loop()
    parts = [loop((a, a + 4))[0][:, a : a + 4] for a in range(0, 8, 4)]
    assert ((torch.cat(parts, dim=1) - full).abs().max() / full.abs().max()) < 1e-5
