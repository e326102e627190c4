"""Guidance-distilled models (issue 27, part 2: "LCM or TCD models"): a UNet with
time_cond_proj_dim takes the guidance scale as an embedding and runs one branch, as diffusers'
LatentConsistencyModelPipeline runs it. Before, such a model got classifier-free guidance's two
branches and no embedding: a video unlike the model's own pipeline's."""

import numpy as np
import pytest
import torch
from diffusers import LatentConsistencyModelPipeline, LCMScheduler, StableDiffusionPipeline, UNet2DConditionModel

import tiny_models
from t2vz_desktop.engine.decode import decode_latents
from t2vz_desktop.engine.jobs import GenerationRequest, ProgressEvent, run_generation

SIZE = 32


@pytest.fixture(scope="module")
def lcm_folder(tmp_path_factory):
    """The tiny SD model with a UNet that embeds the guidance scale (32 features)."""
    parts = tiny_models.build_tiny_components(seed=0)
    with torch.random.fork_rng(devices=[]):
        unet = UNet2DConditionModel(**tiny_models.tiny_unet_config(), time_cond_proj_dim=32)
    tiny_models.randomize_(unet, 77)
    pipe = StableDiffusionPipeline(**{**parts, "unet": unet.eval()}, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    path = tmp_path_factory.mktemp("lcm") / "tiny-lcm"
    pipe.save_pretrained(path)
    return path


def request(model, **kw) -> GenerationRequest:
    base = dict(prompts=["a red circle"], model=str(model), frames=4, width=SIZE, height=SIZE, steps=4, seed=7,
                chunk_size=0, device="cpu", scheduler="lcm", guidance=8.5)
    return GenerationRequest(**{**base, **kw})


def lcm_image(folder, steps: int, guidance: float) -> np.ndarray:
    pipe = LatentConsistencyModelPipeline.from_pretrained(folder, safety_checker=None, requires_safety_checker=False)
    pipe.scheduler = LCMScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    return pipe("a red circle", height=SIZE, width=SIZE, num_inference_steps=steps, guidance_scale=guidance,
                generator=torch.Generator("cpu").manual_seed(7), output_type="np").images[0]


@pytest.mark.parametrize("steps", [1, 2, 4])
@pytest.mark.parametrize("guidance", [8.5, 2.0])
def test_frame0_is_the_lcm_pipelines_image(lcm_folder, model_cache, steps, guidance):
    result = run_generation(request(lcm_folder, steps=steps, guidance=guidance), cache=model_cache)
    mine = decode_latents(result.model.pipe.vae, result.latents[:1])[0].permute(1, 2, 0).numpy()
    assert np.abs(mine - lcm_image(lcm_folder, steps, guidance)).max() < 1e-4
    chunked = run_generation(request(lcm_folder, steps=steps, guidance=guidance, chunk_size=1), cache=model_cache)
    assert torch.allclose(chunked.latents, result.latents, atol=1e-4)


def test_the_guidance_reaches_the_model_and_one_branch_runs(lcm_folder, model_cache):
    rows = []
    model = model_cache.get(request(lcm_folder))[0]
    hook = model.pipe.unet.register_forward_pre_hook(
        lambda m, args, kwargs: rows.append((args[0].shape[0], kwargs["timestep_cond"].shape[0])), with_kwargs=True)
    try:
        a = run_generation(request(lcm_folder, guidance=8.5), cache=model_cache)
        b = run_generation(request(lcm_folder, guidance=3.0), cache=model_cache)
    finally:
        hook.remove()
    assert rows and all(batch == cond for batch, cond in rows)
    assert max(batch for batch, _ in rows) == 4  # 4 frames in one branch: no unconditional rows
    assert (a.latents - b.latents).abs().max() > 1e-3


def test_a_negative_prompt_is_said_to_be_ignored(lcm_folder, model_cache):
    said = []
    run_generation(request(lcm_folder, negative_prompt="blurry", steps=1),
                   on_event=lambda e: said.append(e.message) if e.kind == "warning" else None, cache=model_cache)
    assert any("guidance-distilled" in m and "--negative is ignored" in m for m in said)


def test_a_model_whose_scheduler_is_lcm_runs_its_own_few_steps_by_default(lcm_folder, tmp_path, model_cache):
    """Found by a newcomer: an LCM model with no flags ran DDIM, 50 steps, guidance 7.5 (the SD
    defaults), though its scheduler configuration says LCMScheduler: slow, and not the model's
    way. Its own settings now come from its configurations (t2vz.json, where present, wins)."""
    import json
    import shutil

    from t2vz_desktop.engine.model_settings import own_sampler

    folder = tmp_path / "lcm-own"
    shutil.copytree(lcm_folder, folder)
    config = folder / "scheduler" / "scheduler_config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "_class_name": "LCMScheduler"}))
    r = GenerationRequest(prompts=["a red circle"], model=str(folder), frames=2, width=SIZE, height=SIZE, seed=7,
                          device="cpu")
    recipe = run_generation(r, cache=model_cache).recipe
    assert (recipe.scheduler, recipe.steps, recipe.guidance) == ("lcm", 4, 8.5)
    assert own_sampler(str(folder)) == "lcm"
    (folder / "t2vz.json").write_text(json.dumps({"steps": 6}))
    from t2vz_desktop.engine.jobs import ModelCache

    assert run_generation(r, cache=ModelCache()).recipe.steps == 6  # a fresh load reads the new file


def test_an_lcm_model_edits_with_a_controlnet_its_own_way(lcm_folder, tmp_path, model_cache):
    """Reviewer's find: the ControlNet (made for the base model, no guidance embedding of its own)
    was handed the LCM's timestep_cond and failed at the first step; and the edit ran the
    ControlNet mode's 20 DDIM steps instead of the model's own sampler."""
    import json
    import shutil

    from diffusers import ControlNetModel

    from t2vz_desktop.engine.request import ControlSpec, EditSpec
    from test_edit import write_square_video

    folder = tmp_path / "lcm-own"
    shutil.copytree(lcm_folder, folder)
    config = folder / "scheduler" / "scheduler_config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "_class_name": "LCMScheduler"}))
    # an SD 1.x ControlNet, as LCMs distilled from SD 1.5 borrow: no guidance embedding of its own
    net = ControlNetModel.from_unet(tiny_models.build_tiny_components()["unet"], conditioning_embedding_out_channels=(8, 16))
    assert getattr(net.config, "time_cond_proj_dim", None) is None
    tiny_models.randomize_(net, 5)
    net.save_pretrained(tmp_path / "cn")
    source = write_square_video(tmp_path / "square.mp4")
    r = GenerationRequest(prompts=["a red square"], model=str(folder), width=SIZE, height=SIZE, seed=3, device="cpu",
                          edit=EditSpec(source=str(source), controls=[ControlSpec("canny", str(tmp_path / "cn"))]))
    result = run_generation(r, cache=model_cache)
    assert (result.recipe.scheduler, result.recipe.steps, result.recipe.guidance) == ("lcm", 4, 8.5)
    assert torch.isfinite(result.latents).all() and result.latents.shape[0] == 8
