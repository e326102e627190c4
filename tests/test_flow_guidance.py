"""Flow-guided editing (engine/flow_guidance.py, `t2vz edit --flow-guidance`): the pieces on known
flows, the model-output round trip for every prediction type and sampler, and the option in the
loop (chunk-exact, recorded in the recipe, on by default since 0.3.0, off for older recipes)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from test_edit import canny_request, square_video  # noqa: F401 - the fixture
from test_measure import texture

from t2vz_desktop.cli import main
from t2vz_desktop.engine.flow_guidance import SourceFlow, fuse, source_flow, warp_latent
from t2vz_desktop.engine.jobs import run_generation
from t2vz_desktop.engine.noise_schedule import estimate_x0, model_output_for
from t2vz_desktop.engine.request import DEFAULT_FLOW_GUIDANCE, ControlSpec, EditSpec, GenerationRequest


def test_warp_latent_by_a_whole_pixel_shift_reads_the_neighbour():
    x = torch.arange(2 * 6 * 6, dtype=torch.float32).reshape(1, 2, 6, 6)
    flow = torch.zeros(1, 2, 6, 6)
    flow[:, 0] = 1.0  # read one pixel to the right
    out = warp_latent(x, flow)
    assert torch.allclose(out[..., :5], x[..., 1:], atol=1e-5) and torch.allclose(out[..., 5], x[..., 5], atol=1e-5)


def test_full_strength_fusion_carries_frame_zero_down_the_chain():
    frames, h, w = 4, 8, 8
    x0 = torch.randn(frames, 4, h, w)
    flow = torch.zeros(frames, 2, h, w)
    flow[1:, 0] = -1.0  # each frame shows the previous one moved 1 px right
    reliable = torch.ones(frames, 1, h, w)
    reliable[0] = 0
    fused = fuse(x0, frames, SourceFlow(flow, reliable), strength=1.0)
    assert torch.equal(fused[0], x0[0])
    for k in range(1, frames):  # frame k is frame 0 moved k px right (left border replicated)
        assert torch.allclose(fused[k][..., k:], x0[0][..., : w - k], atol=1e-5)
    half = fuse(x0, frames, SourceFlow(flow, reliable * 0.5), strength=1.0)
    assert torch.allclose(half[1], 0.5 * x0[1] + 0.5 * warp_latent(x0[:1], flow[1:2])[0], atol=1e-5)


def test_unreliable_flow_leaves_the_frame_alone():
    x0 = torch.randn(3, 4, 6, 6)
    flow = torch.randn(3, 2, 6, 6)
    fused = fuse(x0, 3, SourceFlow(flow, torch.zeros(3, 1, 6, 6)), strength=1.0)
    assert torch.equal(fused, x0)


@pytest.mark.parametrize("kind", ["epsilon", "v_prediction", "sample"])
@pytest.mark.parametrize("sampler", ["ddim", "euler-a"])
def test_model_output_for_is_the_inverse_of_estimate_x0(kind, sampler):
    from t2vz_desktop.engine.models import make_scheduler

    from diffusers import DDIMScheduler

    base = DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, prediction_type=kind)
    scheduler = make_scheduler(sampler, base.config)
    scheduler.set_timesteps(10)
    x, out = torch.randn(2, 4, 8, 8) * scheduler.init_noise_sigma, torch.randn(2, 4, 8, 8)
    for i in (0, 4, 9):
        x0 = estimate_x0(scheduler, x, out, i)
        assert torch.allclose(model_output_for(scheduler, x, x0, i), out, atol=1e-4), (kind, sampler, i)


def test_source_flow_of_a_pan_is_the_pan_in_latent_pixels():
    base = texture(seed=5, size=128)
    frames = [np.ascontiguousarray(np.roll(base, 8 * k, axis=1)) for k in range(3)]  # 8 px right a frame
    flow = source_flow(frames, (16, 16))  # 8x smaller
    assert flow.flow.shape == (3, 2, 16, 16) and flow.reliable.shape == (3, 1, 16, 16)
    inner = (slice(None), slice(3, 13), slice(3, 13))
    assert torch.allclose(flow.flow[1:, 0][inner], torch.tensor(-1.0), atol=0.15)  # frame k reads k-1 1 px left
    assert flow.flow[1:, 1][inner].abs().max() < 0.15 and flow.reliable[1:, 0][inner].mean() > 0.9
    assert float(flow.flow[0].abs().max()) == 0.0


def test_source_flow_is_the_same_in_any_number_of_threads():
    base = texture(seed=6, size=96)
    frames = [np.ascontiguousarray(np.roll(np.roll(base, 3 * k, axis=1), k, axis=0)) for k in range(6)]
    one = source_flow(iter(frames), (12, 12), workers=1)  # a stream, as the edit's clip gives them
    three = source_flow(iter(frames), (12, 12), workers=3)
    assert torch.equal(one.flow, three.flow) and torch.equal(one.reliable, three.reliable)
    assert one.flow.shape == (6, 2, 12, 12) and float(one.flow[1:, 0].mean()) < -0.2  # each reads its left


def guided(tiny_folder, source, net, strength, **kw):
    e = EditSpec(source=str(source), controls=[ControlSpec("canny", str(net))], flow_guidance=strength)
    return canny_request(tiny_folder, source, net, edit=e, **kw)


def test_flow_guided_edit_is_chunk_exact_and_changes_the_result(tiny_folder, tiny_controlnet, square_video,
                                                                 model_cache):
    a = run_generation(guided(tiny_folder, square_video, tiny_controlnet, 0.8, chunk_size=3), cache=model_cache)
    b = run_generation(guided(tiny_folder, square_video, tiny_controlnet, 0.8, chunk_size=0), cache=model_cache)
    assert torch.allclose(a.latents, b.latents, atol=1e-4)
    off = run_generation(guided(tiny_folder, square_video, tiny_controlnet, 0.0), cache=model_cache)
    assert (a.latents - off.latents).abs().max() > 1e-3
    assert a.recipe.edit.flow_guidance == 0.8
    again = GenerationRequest.from_json(a.recipe.to_json())
    assert again.edit.flow_guidance == 0.8


def test_new_edits_follow_the_source_and_recipes_from_before_the_option_edit_as_before():
    assert EditSpec(source="x.mp4", instruct=True).flow_guidance == DEFAULT_FLOW_GUIDANCE == 1.0
    edit = EditSpec(source="x.mp4", controls=[ControlSpec("canny")])
    data = json.loads(GenerationRequest(prompts=["a red square"], edit=edit).to_json())
    assert data["edit"]["flow_guidance"] == 1.0  # written out, so a later default cannot change it
    del data["edit"]["flow_guidance"]  # as 0.2.0 wrote it before the option existed
    assert GenerationRequest.from_json(json.dumps(data)).edit.flow_guidance == 0.0


@pytest.mark.parametrize("value", ["-0.1", "1.5"])
def test_a_bad_strength_is_one_line_and_exit_2(tiny_folder, tiny_controlnet, square_video, tmp_path, capsys, value):
    out = tmp_path / "o.mp4"
    args = ["edit", str(square_video), "--prompt", "a red square", "--mode", "canny", "--controlnet",
            str(tiny_controlnet), "--model", str(tiny_folder), "--out", str(out), "--flow-guidance", value, "-q"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--flow-guidance" in err[0] and not out.exists()


def test_with_the_motion_field_fusion_starts_where_every_frame_is_denoised(tiny_folder, tiny_controlnet, square_video,
                                                                          model_cache):
    """Found by the benchmark: counted from step 0, the share ended before T, where the motion
    field's frames are first denoised, and the option did nothing there."""
    def motion_edit(strength):
        e = EditSpec(source=str(square_video), controls=[ControlSpec("canny", str(tiny_controlnet))],
                     flow_guidance=strength, motion_field=True)
        return run_generation(canny_request(tiny_folder, square_video, tiny_controlnet, edit=e, steps=8,
                                            t_restart=401, t_warp=301), cache=model_cache)

    assert (motion_edit(0.8).latents - motion_edit(0.0).latents).abs().max() > 1e-3
