"""Tiny random SDXL components for offline, CPU-fast tests (the SD 1.x ones are tiny_models.py).

    build_tiny_sdxl_pipeline(seed=0) -> StableDiffusionXLPipeline
    save_tiny_sdxl_folder(path) -> Path        # a diffusers folder (from_pretrained)
    save_tiny_sdxl_single_file(path) -> (checkpoint, config folder)   # one SDXL LDM .safetensors

SDXL's layout at toy widths (Podell et al. 2023, section 2.1; diffusers' own SDXL tests use the
same shape): a UNet whose first level has no attention, whose second has two transformer layers
per block (so "every transformer block" is more than one per attention), cross-attention on the
two text encoders' states side by side (32 + 32 = 64 wide), and the added "text_time"
embedding of the second encoder's pooled output (32) and six size ids (8 each). The VAE
downsamples by 2 and says force_upcast, as SDXL's does. Both tokenizers are tiny_models'
character-level CLIP tokenizer; the second pads with "!", as SDXL's tokenizer_2 does.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
from transformers import CLIPTextModel, CLIPTextModelWithProjection

from tiny_models import SD1_SCHEDULER, build_tiny_tokenizer, randomize_, tiny_text_config, tiny_vae_config

TIME_EMBED = 8  # addition_time_embed_dim: each of the six size ids becomes 8 sinusoid features
FIRST, POOLED = 32, 48  # the text encoders' widths; the second's projection_dim is its width, as SDXL's


def tiny_sdxl_unet_config() -> dict:
    return dict(
        sample_size=16,
        in_channels=4,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        transformer_layers_per_block=(1, 2),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        cross_attention_dim=FIRST + POOLED,
        addition_embed_type="text_time",
        addition_time_embed_dim=TIME_EMBED,
        projection_class_embeddings_input_dim=6 * TIME_EMBED + POOLED,
        norm_num_groups=8,
    )


def build_tiny_sdxl_pipeline(seed: int = 0) -> StableDiffusionXLPipeline:
    tokenizer = build_tiny_tokenizer()
    tokenizer_2 = build_tiny_tokenizer()
    tokenizer_2.pad_token = "!"
    with torch.random.fork_rng(devices=[]):  # module constructors draw from the global RNG
        unet = UNet2DConditionModel(**tiny_sdxl_unet_config())
        vae = AutoencoderKL(**tiny_vae_config(), scaling_factor=0.13025, force_upcast=True)
        text_encoder = CLIPTextModel(tiny_text_config(tokenizer))
        second = tiny_text_config(tokenizer_2)
        second.hidden_size = second.projection_dim = POOLED
        text_encoder_2 = CLIPTextModelWithProjection(second)
    for offset, model in enumerate((unet, vae, text_encoder, text_encoder_2)):
        randomize_(model, seed * 1000 + 500 + offset)
        model.eval()
    return StableDiffusionXLPipeline(
        vae=vae, text_encoder=text_encoder, text_encoder_2=text_encoder_2, tokenizer=tokenizer,
        tokenizer_2=tokenizer_2, unet=unet, scheduler=DDIMScheduler(**SD1_SCHEDULER),
        force_zeros_for_empty_prompt=True,
    )


def save_tiny_sdxl_folder(path: str | Path, seed: int = 0) -> Path:
    """The tiny SDXL pipeline as a diffusers folder that `StableDiffusionXLPipeline.from_pretrained` loads."""
    path = Path(path)
    build_tiny_sdxl_pipeline(seed).save_pretrained(path)
    return path


# diffusers' text-encoder names -> OpenCLIP's, the reverse of
# diffusers.loaders.single_file_utils.convert_open_clip_checkpoint (DIFFUSERS_TO_LDM_MAPPING["openclip"])
OPEN_CLIP_LEAVES = {"layer_norm1": "ln_1", "layer_norm2": "ln_2", "mlp.fc1": "mlp.c_fc", "mlp.fc2": "mlp.c_proj",
                    "self_attn.out_proj": "attn.out_proj"}
LDM_XL_UNET, LDM_XL_CLIP, LDM_XL_OPEN_CLIP = "model.diffusion_model.", "conditioner.embedders.0.transformer.", \
    "conditioner.embedders.1.model."


def open_clip_state(text_encoder_2) -> dict:
    """CLIPTextModelWithProjection -> OpenCLIP's keys (SDXL's second text encoder in an LDM
    checkpoint): q, k and v projections stacked into one in_proj, the projection transposed."""
    sd = {k.removeprefix("text_model."): v for k, v in text_encoder_2.state_dict().items()}
    out = {"token_embedding.weight": sd.pop("embeddings.token_embedding.weight"),
           "positional_embedding": sd.pop("embeddings.position_embedding.weight"),
           "ln_final.weight": sd.pop("final_layer_norm.weight"), "ln_final.bias": sd.pop("final_layer_norm.bias"),
           "text_projection": sd.pop("text_projection.weight").T.contiguous()}
    for i in range(text_encoder_2.config.num_hidden_layers):
        layer = f"encoder.layers.{i}."
        block = f"transformer.resblocks.{i}."
        for kind in ("weight", "bias"):
            out[block + f"attn.in_proj_{kind}"] = torch.cat(
                [sd.pop(layer + f"self_attn.{q}_proj.{kind}") for q in ("q", "k", "v")])
        for key in [k for k in sd if k.startswith(layer)]:
            rest = key[len(layer):]
            old = next(o for o in OPEN_CLIP_LEAVES if rest.startswith(o + "."))
            out[block + OPEN_CLIP_LEAVES[old] + rest[len(old):]] = sd.pop(key)
    assert not sd, f"not converted: {sorted(sd)[:3]}"
    return out


def save_tiny_sdxl_single_file(path: str | Path, seed: int = 0) -> tuple[Path, Path]:
    """The tiny SDXL weights as one original-format (LDM, Stability's sgm) checkpoint and the
    configuration folder `from_single_file(config=...)` reads (with both tokenizers' files).
    Returns (`path/tiny-sdxl.safetensors`, `path/tiny-sdxl-config/`)."""
    from safetensors.torch import save_file

    from tiny_models import UNET_TOP_LEVEL, text_encoder_key_to_ldm, unet_key_to_ldm, vae_ldm_state

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    pipe = build_tiny_sdxl_pipeline(seed)
    checkpoint = vae_ldm_state(pipe.vae)  # SDXL's VAE layout is SD's
    added = {"add_embedding.linear_1": "label_emb.0.0", "add_embedding.linear_2": "label_emb.0.2"}
    for key, value in pipe.unet.state_dict().items():
        top = next((new + key[len(old):] for old, new in {**UNET_TOP_LEVEL, **added}.items()
                    if key.startswith(old + ".")), None)
        checkpoint[LDM_XL_UNET + (top or unet_key_to_ldm(key, pipe.unet.config))] = value
    for key, value in pipe.text_encoder.state_dict().items():
        checkpoint[LDM_XL_CLIP + text_encoder_key_to_ldm(key)] = value
    for key, value in open_clip_state(pipe.text_encoder_2).items():
        checkpoint[LDM_XL_OPEN_CLIP + key] = value
    ckpt = path / "tiny-sdxl.safetensors"
    save_file({k: v.detach().contiguous().clone() for k, v in checkpoint.items()}, str(ckpt))
    config = path / "tiny-sdxl-config"
    pipe.save_config(config)
    for part in ("unet", "vae", "scheduler"):
        getattr(pipe, part).save_config(config / part)
    for part in ("text_encoder", "text_encoder_2"):
        getattr(pipe, part).config.save_pretrained(config / part)
    for part in ("tokenizer", "tokenizer_2"):
        getattr(pipe, part).save_pretrained(config / part)
    return ckpt, config

