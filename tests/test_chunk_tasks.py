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


@pytest.mark.parametrize("option", [
    {"background_smoothing": 0.6}, {"background_smoothing": 0.6, "subject_mask": "attention"}, {"noise_window": 4},
    {"motion_fill": "reflect"}, {"init_image": "square.png"}, {"camera": "pan"},
], ids=lambda o: "-".join(o))
def test_the_options_a_farm_cuts_into_chunks_give_the_whole_video(tiny_folder, model_cache, tmp_path, option):
    """Every option farm.chunkable lets through: chunks made apart equal the whole video."""
    import cv2
    import numpy as np

    from t2vz_desktop.engine.camera import CameraKey

    if "init_image" in option:
        image = np.zeros((32, 32, 3), np.uint8)
        image[8:20, 8:20] = (0, 0, 255)
        cv2.imwrite(str(tmp_path / "square.png"), image)
        option = {"init_image": str(tmp_path / "square.png")}
    if "camera" in option:
        option = {"camera": [CameraKey(0), CameraKey(7, pan=(6.0, 2.0), zoom=1.2, rotate=10.0)]}
    request = GenerationRequest(prompts=["a red circle"], model=str(tiny_folder), frames=8, width=32, height=32,
                                steps=5, seed=4, chunk_size=4, device="cpu", **option)
    model, _ = model_cache.get(request)
    recipe = request.resolve(model.defaults, model.native_size)
    pipe, device = model.pipe, model.device
    text, plan = text_tables(pipe, recipe, device), video_plan(recipe, model, device)

    def run(only):
        scheduler = make_scheduler(recipe.scheduler, pipe.scheduler.config)
        return sample_video(pipe.unet, scheduler, text, replace(plan, frames_only=only), device)

    full = run(None)
    parts = torch.cat([run((a, a + 4))[a : a + 4] for a in (0, 4)])
    assert (parts - full).abs().max() / full.abs().max() < 1e-5
