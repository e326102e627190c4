"""Tiny random SDXL components for offline, CPU-fast tests (the SD 1.x ones are tiny_models.py).

    build_tiny_sdxl_pipeline(seed=0) -> StableDiffusionXLPipeline
    save_tiny_sdxl_folder(path) -> Path        # a diffusers folder (from_pretrained)

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
POOLED = 32  # the second text encoder's projection_dim


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
        cross_attention_dim=64,
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
        text_encoder_2 = CLIPTextModelWithProjection(tiny_text_config(tokenizer_2))
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
