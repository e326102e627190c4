"""The offline model resources (CLIP tokenizer, SD config folders) and the tiny test models.

Everything here runs offline on CPU in seconds: the SD-sized models are built on the meta
device, and single-file loading is exercised with the tiny components.
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # read by huggingface_hub at import time

import json
import socket
from pathlib import Path

import pytest
import torch
from accelerate import init_empty_weights
from diffusers import AutoencoderKL, StableDiffusionPipeline, UNet2DConditionModel
from diffusers.loaders.single_file_utils import (
    convert_ldm_clip_checkpoint,
    convert_ldm_unet_checkpoint,
    convert_ldm_vae_checkpoint,
)
from safetensors.torch import load_file
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer, CLIPTokenizerFast

import tiny_models

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
CLIP_DIR = RESOURCES / "tokenizers" / "clip"
CONFIGS = RESOURCES / "configs"

# name: (UNet, VAE, text encoder) parameter counts of the published models
PUBLISHED_SIZES = {
    "sd15": (859_520_964, 83_653_863, 123_060_480),
    "sd21": (865_910_724, 83_653_863, 340_387_840),
    "sd21-base": (865_910_724, 83_653_863, 340_387_840),
}


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def assert_same_weights(expected: torch.nn.Module, actual: torch.nn.Module) -> None:
    want, got = expected.state_dict(), actual.state_dict()
    assert set(want) == set(got)
    differing = [k for k in want if got[k].is_meta or not torch.equal(want[k], got[k])]
    assert not differing, f"{len(differing)} tensors differ, e.g. {differing[:3]}"


def first_weight(model: torch.nn.Module) -> torch.Tensor:
    return next(iter(model.parameters()))


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test."""

    def refuse(self, *args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def empty_models(folder: Path, text_config_folder: Path | None = None):
    with init_empty_weights():
        unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(folder, subfolder="unet"))
        vae = AutoencoderKL.from_config(AutoencoderKL.load_config(folder, subfolder="vae"))
        text_config = CLIPTextConfig.from_pretrained(text_config_folder or folder, subfolder="text_encoder")
        text_encoder = CLIPTextModel(text_config)
    return unet, vae, text_encoder


# --- the real CLIP tokenizer -----------------------------------------------------------------


@pytest.mark.parametrize("cls", [CLIPTokenizer, CLIPTokenizerFast])
def test_clip_tokenizer_gives_the_published_ids(cls):
    tokenizer = cls.from_pretrained(CLIP_DIR)
    assert tokenizer("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert tokenizer("an astronaut riding a horse on mars").input_ids == [
        49406, 550, 18376, 6765, 320, 4558, 525, 7496, 49407,
    ]
    assert len(tokenizer) == 49408
    padded = tokenizer("a cat", padding="max_length", max_length=tokenizer.model_max_length).input_ids
    assert tokenizer.model_max_length == 77 and len(padded) == 77 and padded[-1] == 49407


def test_clip_vocabulary_is_the_merges_in_order():
    vocab = json.loads((CLIP_DIR / "vocab.json").read_text(encoding="utf-8"))
    lines = (CLIP_DIR / "merges.txt").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#version: 0.2" and len(lines) == 1 + 48894
    assert all(vocab[line.replace(" ", "")] == 512 + i for i, line in enumerate(lines[1:]))
    assert vocab["<|startoftext|>"] == 49406 and vocab["<|endoftext|>"] == 49407


# --- the SD config folders -------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PUBLISHED_SIZES))
def test_config_folder_builds_the_published_model_sizes(name):
    unet, vae, text_encoder = empty_models(CONFIGS / name)
    assert (n_params(unet), n_params(vae), n_params(text_encoder)) == PUBLISHED_SIZES[name]


@pytest.mark.parametrize(
    "name, prediction_type, latent_size, pad_token, pad_id",
    [
        ("sd15", "epsilon", 64, "<|endoftext|>", 49407),
        ("sd21", "v_prediction", 96, "!", 0),
        ("sd21-base", "epsilon", 64, "!", 0),
    ],
)
def test_config_folder_settings(name, prediction_type, latent_size, pad_token, pad_id):
    folder = CONFIGS / name
    model_index = json.loads((folder / "model_index.json").read_text())
    assert model_index["_class_name"] == "StableDiffusionPipeline"
    # No vocabulary here: the loader passes `tokenizer=` (see resources/configs/README.md).
    assert model_index["tokenizer"] == [None, None] and model_index["safety_checker"] == [None, None]
    scheduler = json.loads((folder / "scheduler" / "scheduler_config.json").read_text())
    assert scheduler["prediction_type"] == prediction_type
    assert (scheduler["beta_start"], scheduler["beta_end"], scheduler["steps_offset"]) == (0.00085, 0.012, 1)
    assert UNet2DConditionModel.load_config(folder, subfolder="unet")["sample_size"] == latent_size

    special = json.loads((folder / "tokenizer" / "special_tokens_map.json").read_text())
    tokenizer = CLIPTokenizer.from_pretrained(CLIP_DIR, **special)
    assert tokenizer.pad_token == pad_token and tokenizer.pad_token_id == pad_id


def test_sdxl_config_folder_builds_the_published_model_sizes():
    """stabilityai/stable-diffusion-xl-base-1.0's parts: UNet 2.57 B, VAE 83.7 M, CLIP ViT-L 123 M,
    OpenCLIP bigG with projection 695 M parameters."""
    from transformers import CLIPTextModelWithProjection

    folder = CONFIGS / "sdxl"
    unet, vae, text_encoder = empty_models(folder)
    with init_empty_weights():
        text_encoder_2 = CLIPTextModelWithProjection(CLIPTextConfig.from_pretrained(folder, subfolder="text_encoder_2"))
    assert (n_params(unet), n_params(vae), n_params(text_encoder), n_params(text_encoder_2)) == (
        2_567_463_684, 83_653_863, 123_060_480, 694_659_840)


def test_sdxl_config_folder_settings():
    folder = CONFIGS / "sdxl"
    model_index = json.loads((folder / "model_index.json").read_text())
    assert model_index["_class_name"] == "StableDiffusionXLPipeline" and model_index["force_zeros_for_empty_prompt"]
    assert model_index["tokenizer"] == model_index["tokenizer_2"] == [None, None]
    unet = UNet2DConditionModel.load_config(folder, subfolder="unet")
    assert unet["sample_size"] == 128 and unet["addition_embed_type"] == "text_time"
    # 6 size ids x 256 + the pooled 1280 of text_encoder_2's projection
    assert unet["projection_class_embeddings_input_dim"] == 6 * unet["addition_time_embed_dim"] + 1280
    vae = AutoencoderKL.load_config(folder, subfolder="vae")
    assert vae["scaling_factor"] == 0.13025 and vae["force_upcast"]
    pads = []
    for part in ("tokenizer", "tokenizer_2"):
        special = json.loads((folder / part / "special_tokens_map.json").read_text())
        tokenizer = CLIPTokenizer.from_pretrained(CLIP_DIR, **special)
        pads.append((tokenizer.pad_token, tokenizer.pad_token_id))
    assert pads == [("<|endoftext|>", 49407), ("!", 0)]


def test_an_sdxl_checkpoint_file_is_routed_to_the_sdxl_configuration(tmp_path):
    """Read from the header alone: the OpenCLIP bigG key diffusers detects SDXL base by."""
    from safetensors.torch import save_file

    from t2vz_desktop.engine.models import single_file_config

    path = tmp_path / "community-sdxl.safetensors"
    save_file({"conditioner.embedders.1.model.transformer.resblocks.9.mlp.c_proj.bias": torch.zeros(1280)}, str(path))
    assert single_file_config(path, None, False) == CONFIGS / "sdxl"


@pytest.mark.parametrize("name", ["sd15", "sd21"])
def test_ldm_converter_inverts_diffusers_for_full_size_layouts(name):
    # diffusers -> LDM (ours) -> diffusers (theirs) must give back every key with its shape.
    unet, vae, text_encoder = empty_models(CONFIGS / name, text_config_folder=CONFIGS / "sd15")
    checkpoint = tiny_models.to_ldm_checkpoint(unet, vae, text_encoder)
    assert "model.diffusion_model.output_blocks.5.2.conv.weight" in checkpoint  # upsampler after attention
    back = {
        "unet": convert_ldm_unet_checkpoint(checkpoint, unet.config),
        "vae": convert_ldm_vae_checkpoint(checkpoint, vae.config),
        "text": {k.removeprefix("text_model."): v for k, v in convert_ldm_clip_checkpoint(checkpoint).items()},
    }
    for key, model in [("unet", unet), ("vae", vae), ("text", text_encoder)]:
        expected = {k: v.shape for k, v in model.state_dict().items()}
        assert {k: v.shape for k, v in back[key].items()} == expected


# --- the tiny models -------------------------------------------------------------------------


def test_tiny_components_are_seeded_and_nontrivial():
    state = torch.random.get_rng_state()
    first, again = tiny_models.build_tiny_components(seed=0), tiny_models.build_tiny_components(seed=0)
    assert torch.equal(state, torch.random.get_rng_state())  # global RNG untouched
    other = tiny_models.build_tiny_components(seed=1)
    for name in ("unet", "vae", "text_encoder"):
        assert_same_weights(first[name], again[name])
        assert not torch.equal(first_weight(first[name]), first_weight(other[name]))

    unet = first["unet"]
    with torch.no_grad():
        out = unet(torch.randn(1, 4, 16, 16), 500, encoder_hidden_states=torch.randn(1, 77, 32)).sample
    assert out.shape == (1, 4, 16, 16) and out.abs().mean() > 1e-3

    pix2pix_unet = tiny_models.build_tiny_components(in_channels=8)["unet"]
    assert pix2pix_unet.config.in_channels == 8


def test_tiny_pipeline_makes_a_32px_image_from_16px_latents():
    pipe = tiny_models.build_tiny_pipeline()
    assert pipe.vae_scale_factor == 2
    generator = torch.Generator().manual_seed(0)
    result = pipe("a red ball", num_inference_steps=2, height=32, width=32, generator=generator, output_type="latent")
    assert result.images.shape == (1, 4, 16, 16)
    image = pipe.vae.decode(result.images / pipe.vae.config.scaling_factor).sample
    assert image.shape == (1, 3, 32, 32) and torch.isfinite(image).all()


def test_tiny_folder_round_trip(tmp_path, no_network):
    folder = tiny_models.save_tiny_folder(tmp_path / "tiny")
    pipe = StableDiffusionPipeline.from_pretrained(folder, local_files_only=True)
    reference = tiny_models.build_tiny_components()
    for name in ("unet", "vae", "text_encoder"):
        assert_same_weights(reference[name], getattr(pipe, name))
    assert pipe.tokenizer("a cat").input_ids == reference["tokenizer"]("a cat").input_ids
    assert pipe.scheduler.config.steps_offset == 1 and pipe.safety_checker is None


def test_tiny_single_file_is_an_ldm_checkpoint(tmp_path):
    ckpt, config = tiny_models.save_tiny_single_file(tmp_path)
    checkpoint = load_file(str(ckpt))
    for key in (
        "model.diffusion_model.input_blocks.1.1.proj_in.weight",
        "model.diffusion_model.middle_block.1.transformer_blocks.0.attn2.to_k.weight",
        "first_stage_model.encoder.down.0.block.0.norm1.weight",
        "cond_stage_model.transformer.text_model.encoder.layers.0.self_attn.q_proj.weight",
    ):
        assert key in checkpoint
    assert checkpoint["first_stage_model.decoder.mid.attn_1.q.weight"].shape == (32, 32, 1, 1)  # 1x1 conv
    assert not list(config.rglob("*.safetensors")) and (config / "unet" / "config.json").is_file()


def test_tiny_single_file_round_trip(tmp_path, no_network):
    ckpt, config = tiny_models.save_tiny_single_file(tmp_path)
    pipe = StableDiffusionPipeline.from_single_file(
        str(ckpt), config=str(config), local_files_only=True, safety_checker=None, requires_safety_checker=False
    )
    reference = tiny_models.build_tiny_components()
    for name in ("unet", "vae", "text_encoder"):
        assert_same_weights(reference[name], getattr(pipe, name))
    assert pipe.tokenizer("a cat").input_ids == reference["tokenizer"]("a cat").input_ids
    assert type(pipe.scheduler) is type(reference["scheduler"])


def test_single_file_takes_a_passed_tokenizer(tmp_path, no_network):
    # The shipped config folders carry no vocabulary; the loader passes the tokenizer instead.
    ckpt, config = tiny_models.save_tiny_single_file(tmp_path)
    tokenizer = tiny_models.build_tiny_tokenizer()
    pipe = StableDiffusionPipeline.from_single_file(str(ckpt), config=str(config), tokenizer=tokenizer)
    assert pipe.tokenizer is tokenizer
