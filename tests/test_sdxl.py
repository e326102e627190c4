"""SDXL (issue 27, part 1) on tiny random components (tests/tiny_sdxl.py): frame 0 is diffusers'
StableDiffusionXLPipeline image, chunking changes nothing, every transformer block's
self-attention is cross-frame, every row of every UNet call gets its video's pooled text and the
size ids, and what cannot run SDXL says so before anything loads."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler, StableDiffusionXLPipeline

import tiny_sdxl
from t2vz_desktop.engine.attention import CrossFrameAttnProcessor
from t2vz_desktop.engine.decode import decode_latents
from t2vz_desktop.engine.jobs import GenerationRequest, ModelCache, ProgressEvent, run_generation
from t2vz_desktop.engine.models import ModelError, check_model, fit_vae_precision
from t2vz_desktop.engine.request import PromptKey

SIZE = 32  # the tiny VAE halves it: 16x16 latents


@pytest.fixture(scope="module")
def sdxl_folder(tmp_path_factory):
    return tiny_sdxl.save_tiny_sdxl_folder(tmp_path_factory.mktemp("models") / "tiny-sdxl")


def request(model, **kw) -> GenerationRequest:
    base = dict(prompts=["a red circle"], model=str(model), frames=5, width=SIZE, height=SIZE, steps=6, seed=7,
                chunk_size=0, device="cpu", scheduler="ddim")
    return GenerationRequest(**{**base, **kw})


def sdxl_image(folder, seed=7, steps=6, guidance=7.5, negative=None, height=SIZE, width=SIZE) -> np.ndarray:
    pipe = StableDiffusionXLPipeline.from_pretrained(folder)
    pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    return pipe("a red circle", negative_prompt=negative, height=height, width=width, num_inference_steps=steps,
                guidance_scale=guidance, generator=torch.Generator("cpu").manual_seed(seed),
                output_type="np").images[0]


def first_frame(result) -> np.ndarray:
    return decode_latents(result.model.pipe.vae, result.latents[:1])[0].permute(1, 2, 0).numpy()


@pytest.mark.parametrize("guidance, negative", [(7.5, ""), (5.0, "blurry"), (1.0, "")])
def test_frame0_is_the_sdxl_pipelines_image(sdxl_folder, model_cache, guidance, negative):
    """Guidance 7.5 with no negative prompt (zeros, as SDXL's force_zeros_for_empty_prompt says),
    5 with one, and 1 (one branch: the unconditional rows are not run)."""
    result = run_generation(request(sdxl_folder, guidance=guidance, negative_prompt=negative), cache=model_cache)
    reference = sdxl_image(sdxl_folder, guidance=guidance, negative=negative or None)
    assert np.abs(first_frame(result) - reference).max() < 1e-4
    assert result.latents.shape == (5, 4, 16, 16)


def test_a_non_square_frame_is_the_pipelines_too(sdxl_folder, model_cache):
    """The size ids are (height, width, 0, 0, height, width), as the pipeline sets them."""
    result = run_generation(request(sdxl_folder, width=48, height=32, frames=2), cache=model_cache)
    reference = sdxl_image(sdxl_folder, height=32, width=48)
    assert np.abs(first_frame(result) - reference).max() < 1e-4


@pytest.mark.parametrize("chunk", [1, 2, 3])
def test_chunks_do_not_change_an_sdxl_video(sdxl_folder, model_cache, chunk):
    whole = run_generation(request(sdxl_folder, prompts=["a red circle", "a blue square"]), cache=model_cache)
    chunked = run_generation(request(sdxl_folder, prompts=["a red circle", "a blue square"], chunk_size=chunk),
                             cache=model_cache)
    assert torch.allclose(chunked.latents, whole.latents, atol=1e-4)
    assert (whole.latents[1:5] - whole.latents[0]).abs().max() > 1e-2  # frames differ: the motion field moved them


def test_every_transformer_blocks_self_attention_is_cross_frame(sdxl_folder):
    """The tiny UNet's attentions (one in its second down block, one in the middle, two in the
    first up block) hold two transformer layers each: all 8 self-attentions, and no
    cross-attention, are cross-frame while the job runs; after it the model's own are back."""
    cache = ModelCache(capacity=1)
    unet = cache.get(request(sdxl_folder))[0].pipe.unet
    seen = {}

    def on_event(event: ProgressEvent):
        if event.kind == "step" and not seen:
            seen.update({name: type(p) for name, p in unet.attn_processors.items()})

    run_generation(request(sdxl_folder), on_event=on_event, cache=cache)
    self_attention = [n for n in seen if n.endswith("attn1.processor")]
    layers = [m for m in unet.modules() if type(m).__name__ == "BasicTransformerBlock"]
    assert len(self_attention) == len(layers) == 8
    assert all(seen[n] is CrossFrameAttnProcessor for n in self_attention)
    assert not any(seen[n] is CrossFrameAttnProcessor for n in seen if n.endswith("attn2.processor"))
    assert not any(isinstance(p, CrossFrameAttnProcessor) for p in unet.attn_processors.values())


def test_every_row_gets_its_videos_pooled_text_and_the_size_ids(sdxl_folder):
    """Two prompts, guidance on, chunks of 2: each UNet call's added conditioning has one row
    per batch row, (negative, prompt) branches in the batch's order, each row its own video's
    pooled embedding, and every row the size ids."""
    cache = ModelCache(capacity=1)
    model = cache.get(request(sdxl_folder))[0]
    calls = []
    hook = model.pipe.unet.register_forward_pre_hook(
        lambda m, args, kwargs: calls.append((args[0].shape[0], kwargs["added_cond_kwargs"])), with_kwargs=True)
    try:
        run_generation(request(sdxl_folder, prompts=["a red circle", "a blue square"], frames=3, chunk_size=2,
                               negative_prompt="blurry"), cache=cache)
    finally:
        hook.remove()
    # the embedding cache holds (prompt, negative, pooled, negative pooled) per prompt the job encoded
    pooled = {key[0]: (value[2], value[3]) for key, value in model.embeddings.items()}
    assert set(pooled) == {"a red circle", "a blue square"}
    assert calls, "the UNet was never called"
    for rows, added in calls:
        assert added["text_embeds"].shape == (rows, tiny_sdxl.POOLED)
        assert torch.equal(added["time_ids"], torch.tensor([[32.0, 32, 0, 0, 32, 32]]).expand(rows, 6))
    # The loop's first calls are the anchors alone (T to T'), a video at a time (a batch never
    # spans two videos), one row per branch; at the last step, video 1's chunks: frames 0-1 in
    # both branches, then frame 2.
    red, blue = pooled["a red circle"], pooled["a blue square"]
    assert calls[0][0] == 2 and torch.equal(calls[0][1]["text_embeds"], torch.cat([red[1], red[0]]))
    assert calls[1][0] == 2 and torch.equal(calls[1][1]["text_embeds"], torch.cat([blue[1], blue[0]]))
    assert calls[-2][0] == 4
    assert torch.equal(calls[-2][1]["text_embeds"], torch.cat([blue[1], blue[1], blue[0], blue[0]]))
    assert calls[-1][0] == 2 and torch.equal(calls[-1][1]["text_embeds"], torch.cat([blue[1], blue[0]]))


def test_prompt_travel_moves_the_pooled_text_too(sdxl_folder, model_cache):
    from t2vz_desktop.engine.jobs import travel_text

    keys = [PromptKey(0, "a red circle"), PromptKey(4, "a blue square")]
    r = request(sdxl_folder, guidance=7.5, prompt_keys=keys)
    model = model_cache.get(r)[0]
    text = travel_text(model.pipe, r, torch.device("cpu"))
    assert text.pooled.shape == (5, tiny_sdxl.POOLED) and text.pooled_uncond.shape == (5, tiny_sdxl.POOLED)
    assert not torch.equal(text.pooled[0], text.pooled[4])
    assert not torch.equal(text.pooled[2], text.pooled[0]) and not torch.equal(text.pooled[2], text.pooled[4])
    result = run_generation(r, cache=model_cache)
    assert torch.isfinite(result.latents).all()


def test_sdxl_with_float16_keeps_its_vae_in_float32(monkeypatch):
    """SDXL's VAE overflows in fp16; without the fp16-fix VAE in the hub cache it stays fp32, as
    diffusers' pipeline upcasts it (the UNet and text encoders stay fp16)."""
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda repo, name: None)  # whatever this cache holds
    pipe = tiny_sdxl.build_tiny_sdxl_pipeline().to(torch.float16)
    assert fit_vae_precision(pipe, torch.float16) == "float32"
    assert pipe.vae.dtype == torch.float32 and pipe.unet.dtype == torch.float16
    assert fit_vae_precision(tiny_sdxl.build_tiny_sdxl_pipeline(), torch.float32) is None


def test_sdxl_with_float16_takes_the_fp16_fix_vae_where_the_cache_holds_it(monkeypatch):
    import diffusers
    import huggingface_hub

    from t2vz_desktop.engine.models import FP16_FIX_VAE

    fixed = tiny_sdxl.build_tiny_sdxl_pipeline(seed=1).vae.to(torch.float16)
    asked = []
    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda repo, name: f"/cache/{repo}/{name}")
    monkeypatch.setattr(diffusers.AutoencoderKL, "from_pretrained",
                        classmethod(lambda cls, repo, **kw: asked.append((repo, kw["dtype"])) or fixed))
    pipe = tiny_sdxl.build_tiny_sdxl_pipeline().to(torch.float16)
    assert fit_vae_precision(pipe, torch.float16) == "fp16-fix"
    assert pipe.vae is fixed and pipe.vae.dtype == torch.float16 and asked == [(FP16_FIX_VAE, torch.float16)]


def test_an_sdxl_refiner_or_a_folder_without_its_second_encoder_is_refused_in_one_line(sdxl_folder, tmp_path):
    refiner = tmp_path / "refiner"
    shutil.copytree(sdxl_folder, refiner)
    index = json.loads((refiner / "model_index.json").read_text())
    (refiner / "model_index.json").write_text(json.dumps({**index, "_class_name": "StableDiffusionXLImg2ImgPipeline"}))
    with pytest.raises(ModelError, match="not the SDXL base pipeline") as e:
        check_model(str(refiner))
    assert "\n" not in str(e.value)
    half = tmp_path / "half"
    shutil.copytree(sdxl_folder, half)
    shutil.rmtree(half / "text_encoder_2")
    with pytest.raises(ModelError, match="incomplete: no text_encoder_2/"):
        check_model(str(half))


def test_pix2pix_on_an_sdxl_model_is_refused_before_loading(sdxl_folder):
    from t2vz_desktop.engine.control import check_edit_model

    with pytest.raises(ModelError, match="SDXL model"):
        check_edit_model("pix2pix", str(sdxl_folder))


@pytest.fixture(scope="module")
def sdxl_controlnet(tmp_path_factory, sdxl_folder):
    """A tiny random SDXL ControlNet made from the tiny SDXL UNet (it takes the added conditioning too)."""
    from diffusers import ControlNetModel, UNet2DConditionModel

    import tiny_models

    net = ControlNetModel.from_unet(UNet2DConditionModel.from_pretrained(sdxl_folder / "unet"),
                                    conditioning_embedding_out_channels=(8, 16))
    tiny_models.randomize_(net, 98)  # from_unet zero-initialises the outputs: make them matter
    path = tmp_path_factory.mktemp("cn-xl") / "controlnet"
    net.save_pretrained(path)
    return path


def sdxl_canny(model, source, net, scale=1.0, **kw):
    from t2vz_desktop.engine.request import ControlSpec, EditSpec

    e = EditSpec(source=str(source), controls=[ControlSpec("canny", str(net), scale=scale)])
    return request(model, edit=e, steps=4, frames=8, **kw)


def test_an_sdxl_controlnet_edit_steers_every_frame_and_is_chunk_exact(sdxl_folder, sdxl_controlnet, tmp_path,
                                                                      model_cache):
    from test_edit import write_square_video

    source = write_square_video(tmp_path / "square.mp4", frames=8)
    whole = run_generation(sdxl_canny(sdxl_folder, source, sdxl_controlnet), cache=model_cache)
    chunked = run_generation(sdxl_canny(sdxl_folder, source, sdxl_controlnet, chunk_size=4), cache=model_cache)
    off = run_generation(sdxl_canny(sdxl_folder, source, sdxl_controlnet, scale=0.0), cache=model_cache)
    assert whole.latents.shape[0] == 8
    assert torch.allclose(chunked.latents, whole.latents, atol=1e-4)
    assert (whole.latents - off.latents).abs().max() > 1e-3


def test_an_sd15_controlnet_on_sdxl_is_refused_before_loading(sdxl_folder, tiny_controlnet):
    from t2vz_desktop.engine.control import check_controlnet_fits

    with pytest.raises(ModelError, match="does not fit"):
        check_controlnet_fits(str(tiny_controlnet), str(sdxl_folder))


def save_lora(unet_folder, path):
    """A random LoRA on the UNet's attention projections, large enough to matter on random weights."""
    from diffusers import UNet2DConditionModel
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    unet = UNet2DConditionModel.from_pretrained(unet_folder)
    unet.add_adapter(LoraConfig(r=4, lora_alpha=4, init_lora_weights=False,
                                target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    with torch.no_grad():
        for name, p in unet.named_parameters():
            if "lora_" in name:
                p.mul_(3.0)
    StableDiffusionXLPipeline.save_lora_weights(path.parent, unet_lora_layers=get_peft_model_state_dict(unet),
                                                weight_name=path.name)
    return path


def test_an_sdxl_lora_changes_the_video_by_its_scale(sdxl_folder, tmp_path, model_cache):
    """SDXL LoRAs (an LCM-LoRA or Hyper-SD LoRA for SDXL is one) load through the same --lora."""
    from t2vz_desktop.engine.request import LoraSpec

    lora = str(save_lora(sdxl_folder / "unet", tmp_path / "xl-style.safetensors"))
    plain = run_generation(request(sdxl_folder, frames=3), cache=model_cache).latents
    zero = run_generation(request(sdxl_folder, frames=3, loras=[LoraSpec(lora, 0.0)]), cache=model_cache).latents
    full = run_generation(request(sdxl_folder, frames=3, loras=[LoraSpec(lora, 1.0)]), cache=model_cache).latents
    assert torch.allclose(plain, zero, atol=1e-5)
    assert (full - plain).abs().max() > 1e-2


def test_a_lora_of_another_family_is_refused_in_one_line_before_loading(sdxl_folder, tiny_folder, tmp_path, capsys):
    """Found by a newcomer: an SD LoRA on SDXL failed after the load with diffusers' size-mismatch
    dump of every layer. Both ways round, one line, exit 2, nothing written."""
    from t2vz_desktop.cli import main

    sd_lora = save_lora(tiny_folder / "unet", tmp_path / "sd.safetensors")
    xl_lora = save_lora(sdxl_folder / "unet", tmp_path / "xl.safetensors")
    for model, lora, words in [(sdxl_folder, sd_lora, "made for a model with 32-wide text"),
                               (tiny_folder, xl_lora, "made for a model with 80-wide text")]:
        out = tmp_path / "o.mp4"
        capsys.readouterr()
        assert main(["generate", "a cat", "--model", str(model), "--lora", str(lora), "1", "--width", "32",
                     "--height", "32", "--frames", "2", "--steps", "2", "--out", str(out), "-q"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0] and not out.exists(), err


def test_sdxl_turbo_settings_run_one_branch_in_one_step(sdxl_folder, model_cache):
    """SDXL-Turbo's settings: guidance 0 (no unconditional rows) and one step; frame 0 is the
    pipeline's image. (A Turbo folder's scheduler asks for trailing timesteps; the engine takes
    every scheduler setting from the model's folder.)"""
    result = run_generation(request(sdxl_folder, guidance=0.0, steps=1, scheduler="euler-a"), cache=model_cache)
    from diffusers import EulerAncestralDiscreteScheduler

    pipe = StableDiffusionXLPipeline.from_pretrained(sdxl_folder)
    pipe.scheduler = EulerAncestralDiscreteScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    reference = pipe("a red circle", height=SIZE, width=SIZE, num_inference_steps=1, guidance_scale=0.0,
                     generator=torch.Generator("cpu").manual_seed(7), output_type="np").images[0]
    assert np.abs(first_frame(result) - reference).max() < 1e-4


@pytest.mark.parametrize("part, key, value, words", [
    ("unet", "cross_attention_dim", 96, "is not the two text encoders' widths together (32 + 48 = 80)"),
    ("text_encoder_2", "projection_dim", 16, "pooled 16 (64)"),
])
def test_sdxl_parts_whose_widths_do_not_add_up_are_refused_before_loading(sdxl_folder, tmp_path, part, key, value,
                                                                         words):
    """They failed at the first UNet call with a raw matrix-size error."""
    folder = tmp_path / "mixed"
    shutil.copytree(sdxl_folder, folder)
    config = folder / part / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), key: value}))
    with pytest.raises(ModelError, match="different models") as e:
        check_model(str(folder))
    assert words in str(e.value)


@pytest.mark.parametrize("name", ["FooBarPipeline", "StableDiffusionPipeline"])
def test_an_sdxl_folder_naming_another_pipeline_is_refused_before_loading(sdxl_folder, tmp_path, name):
    """Found by a newcomer: it loaded as SD and failed at the first prompt with 'tuple index out
    of range', exit 1."""
    folder = tmp_path / "renamed"
    shutil.copytree(sdxl_folder, folder)
    index = json.loads((folder / "model_index.json").read_text())
    (folder / "model_index.json").write_text(json.dumps({**index, "_class_name": name}))
    with pytest.raises(ModelError, match=f"is an SDXL UNet .* names \"{name}\""):
        check_model(str(folder))


def test_an_sdxl_edit_without_a_controlnet_named_uses_an_sdxl_one(sdxl_folder, tmp_path):
    """Found by a newcomer: the missing-ControlNet message named the SD 1.5 one, which SDXL then refuses."""
    from t2vz_desktop.engine.control import check_controlnet_fits, mode_controlnet

    assert mode_controlnet("canny", str(sdxl_folder)) == "diffusers/controlnet-canny-sdxl-1.0"
    assert mode_controlnet("pose", str(sdxl_folder)) == "xinsir/controlnet-openpose-sdxl-1.0"
    assert mode_controlnet("canny", "demo").endswith("controlnet-canny")  # the demo model's own
    assert mode_controlnet("canny", "demo") != "lllyasviel/sd-controlnet-canny"


def test_a_controlnet_without_sdxls_added_conditioning_is_refused_on_sdxl(sdxl_folder, tmp_path):
    """Found by a newcomer: a ControlNet with SDXL's widths but no 'text_time' embedding ran and
    ignored the pooled text; one with another added width failed mid-job with a raw matrix error."""
    from safetensors.torch import save_file

    from t2vz_desktop.engine.control import check_controlnet_fits

    config = json.loads((sdxl_folder / "unet" / "config.json").read_text())
    for name, change, words in [("plain", {"addition_embed_type": None}, "added conditioning"),
                                ("wide", {"projection_class_embeddings_input_dim": 112}, "added conditioning width")]:
        net = tmp_path / name
        net.mkdir()
        (net / "config.json").write_text(json.dumps({**config, "_class_name": "ControlNetModel", **change}))
        save_file({"x": torch.zeros(1)}, str(net / "diffusion_pytorch_model.safetensors"))  # only the config is read
        with pytest.raises(ModelError, match=words):
            check_controlnet_fits(str(net), str(sdxl_folder))


def test_an_sdxl_checkpoint_file_without_its_weights_is_exit_2(tmp_path, capsys):
    """Found by a newcomer: a .safetensors with SDXL's detection key but not its weights failed
    with exit 1 ('Failed to load CLIPTextModel'); a file that cannot be a model is bad input."""
    from safetensors.torch import save_file

    from t2vz_desktop.cli import main

    path = tmp_path / "cut.safetensors"
    save_file({"conditioner.embedders.1.model.transformer.resblocks.9.mlp.c_proj.bias": torch.zeros(1280)}, str(path))
    out = tmp_path / "o.mp4"
    assert main(["generate", "a cat", "--model", str(path), "--device", "cpu", "--width", "64", "--height", "64",
                 "--frames", "2", "--steps", "1", "--out", str(out), "-q"]) == 2
    assert "could not load cut.safetensors with the configuration sdxl" in capsys.readouterr().err
    assert not out.exists()


def test_a_kohya_lora_of_another_family_is_refused_too(sdxl_folder, tmp_path):
    """kohya's key names (lora_unet_..._attn2_to_k.lora_down.weight), read from the header."""
    from safetensors.torch import save_file

    from t2vz_desktop.engine.preflight import lora_text_width, preflight

    path = tmp_path / "kohya.safetensors"
    key = "lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight"
    save_file({key: torch.zeros(4, 768), "lora_te_text_model_encoder_layers_0_mlp_fc1.lora_down.weight": torch.zeros(4, 32)},
              str(path))
    assert lora_text_width(path) == 768
    from t2vz_desktop.engine.request import LoraSpec

    with pytest.raises(ModelError, match="made for SD 1.x .* reads 80-wide text"):
        preflight(request(sdxl_folder, loras=[LoraSpec(str(path), 1.0)]))


def test_an_sdxl_controlnet_file_is_refused_with_what_to_pass_instead(sdxl_folder, tmp_path):
    from safetensors.torch import save_file

    from t2vz_desktop.engine.control import check_controlnet_fits

    path = tmp_path / "xl-canny.safetensors"
    save_file({"add_embedding.linear_1.weight": torch.zeros(8, 96), "conv_in.weight": torch.zeros(32, 4, 3, 3)},
              str(path))
    with pytest.raises(ModelError, match="is an SDXL ControlNet file.*diffusers folder or its hub id"):
        check_controlnet_fits(str(path), str(sdxl_folder))


def test_an_sdxl_hub_ids_own_size_is_read_from_its_cached_configuration(sdxl_folder, monkeypatch):
    """Reviewer's find: 'org/name-1.0' was taken for a file with the suffix '.0'."""
    import huggingface_hub

    from t2vz_desktop.engine.model_settings import own_size
    from t2vz_desktop.engine.paths import resources_dir

    configs = resources_dir() / "configs" / "sdxl"
    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache",
                        lambda repo, name: str(configs / name) if repo == "stabilityai/stable-diffusion-xl-base-1.0" else None)
    assert own_size("stabilityai/stable-diffusion-xl-base-1.0") == 1024
    assert own_size("someone/not-cached") == 512


def test_own_size_and_sampler_of_a_path_that_is_not_there_are_sds(tmp_path):
    """The panel asks for any name the user typed: a missing path is not a hub id (huggingface_hub
    raised on it inside the Qt event loop)."""
    from t2vz_desktop.engine.model_settings import own_sampler, own_size

    for name in ("/somewhere/else", str(tmp_path / "gone"), "a/b/c", "model.safetensors"):
        assert (own_size(name), own_sampler(name)) == (512, "ddim")


def test_an_sdxl_checkpoint_file_loads_every_tensor_and_makes_the_folders_video(tmp_path, sdxl_folder, model_cache):
    """A community SDXL model is one LDM (sgm) .safetensors: the tiny SDXL written that way
    (tests/tiny_sdxl.py: UNet with label_emb, CLIP under conditioner.embedders.0, OpenCLIP with
    in_proj under conditioner.embedders.1) loads through the engine with every tensor equal to
    the folder's, so its video is the folder's."""
    from t2vz_desktop.engine.models import load_model

    ckpt, config = tiny_sdxl.save_tiny_sdxl_single_file(tmp_path)
    single, folder = load_model(str(ckpt), device="cpu", config=str(config)), load_model(str(sdxl_folder), device="cpu")
    assert type(single.pipe).__name__ == "StableDiffusionXLPipeline" and single.source == "single file"
    for part in ("unet", "vae", "text_encoder", "text_encoder_2"):
        a, b = getattr(single.pipe, part).state_dict(), getattr(folder.pipe, part).state_dict()
        assert set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in b), part
    video = run_generation(request(ckpt, model_config=str(config), frames=3), cache=model_cache).latents
    assert torch.equal(video, run_generation(request(sdxl_folder, frames=3), cache=model_cache).latents)


def test_the_shipped_sdxl_configuration_hands_both_tokenizers_over(tmp_path, monkeypatch):
    """resources/configs/sdxl lists no tokenizer files: the loader passes the shared CLIP
    vocabulary twice, padding with the end token and with '!' as SDXL's two do."""
    from diffusers import StableDiffusionXLPipeline as XL
    from safetensors.torch import save_file

    from t2vz_desktop.engine import models

    path = tmp_path / "xl.safetensors"
    save_file({"conditioner.embedders.1.model.transformer.resblocks.9.mlp.c_proj.bias": torch.zeros(1280)}, str(path))
    seen = {}
    monkeypatch.setattr(XL, "from_single_file", classmethod(lambda cls, p, **kw: seen.update(kw) or "pipe"))
    assert models._load_single_file(path, torch.float32, None, False) == "pipe"
    assert Path(seen["config"]).name == "sdxl"
    assert (seen["tokenizer"].pad_token, seen["tokenizer_2"].pad_token) == ("<|endoftext|>", "!")
    assert len(seen["tokenizer"]) == len(seen["tokenizer_2"]) == 49408
