"""Tiny random Stable Diffusion 1.x components for offline, CPU-fast tests.

Plain functions, no pytest fixtures, so any test (or benchmark) can import them:

    build_tiny_components(seed=0, in_channels=4) -> dict   # unet, vae, text_encoder, tokenizer, scheduler
    save_tiny_folder(path) -> Path                          # a diffusers folder (from_pretrained)
    save_tiny_single_file(path) -> (ckpt, config_folder)    # one LDM .safetensors + configs (from_single_file)
    save_tiny_depth_model(path) -> Path                     # a DPT depth model + image processor folder

The architecture keeps SD 1.x's block layout at toy widths: a VAE that downsamples by 2 (a 32x32
image has a 16x16x4 latent), a two-level UNet with cross-attention, a 2-layer CLIP text encoder
and a character-level CLIP tokenizer (its vocabulary: byte-level characters, their "</w>" forms
and the two special tokens; no merges). Every weight is random but a function of `seed` only.

diffusers converts original (LDM / CompVis) checkpoints to its own layout but not back, so this
module also holds the reverse converter (`to_ldm_checkpoint`): it mirrors
`diffusers.loaders.single_file_utils.convert_ldm_{unet,vae,clip}_checkpoint` for the SD 1.x
layout (any widths, int `layers_per_block`).
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import torch
from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer
from transformers.convert_slow_tokenizer import bytes_to_unicode

BOS, EOS = "<|startoftext|>", "<|endoftext|>"
MODEL_MAX_LENGTH = 77
CHECKPOINT_NAME = "tiny-sd.safetensors"
CONFIG_FOLDER_NAME = "tiny-sd-config"

# SD 1.x noise schedule (as published with SD 1.5), with DDIM as the sampler.
SD1_SCHEDULER = dict(
    num_train_timesteps=1000,
    beta_start=0.00085,
    beta_end=0.012,
    beta_schedule="scaled_linear",
    steps_offset=1,
    set_alpha_to_one=False,
    clip_sample=False,
    prediction_type="epsilon",
)

# LDM checkpoint prefixes of the three models inside one SD 1.x file.
LDM_UNET, LDM_VAE, LDM_CLIP = "model.diffusion_model.", "first_stage_model.", "cond_stage_model.transformer."


# --------------------------------------------------------------------------------------------
# Building the components


def build_tiny_tokenizer() -> CLIPTokenizer:
    """Character-level CLIP tokenizer (514 tokens), built from files written to a temp folder."""
    chars = list(bytes_to_unicode().values())
    tokens = chars + [c + "</w>" for c in chars] + [BOS, EOS]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}), encoding="utf-8")
        (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
        return CLIPTokenizer.from_pretrained(folder, model_max_length=MODEL_MAX_LENGTH)


def tiny_unet_config(in_channels: int = 4) -> dict:
    return dict(
        sample_size=16,  # pipeline default: 16 latent px * 2 = 32 image px
        in_channels=in_channels,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=8,
    )


def tiny_vae_config() -> dict:
    return dict(
        sample_size=32,
        in_channels=3,
        out_channels=3,
        block_out_channels=(16, 32),  # two levels -> downsampling factor 2
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=8,
    )


def tiny_text_config(tokenizer: CLIPTokenizer) -> CLIPTextConfig:
    return CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=MODEL_MAX_LENGTH,
        hidden_act="quick_gelu",
        projection_dim=32,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


@torch.no_grad()
def randomize_(model: torch.nn.Module, seed: int) -> None:
    """Overwrite every parameter with seeded random values of a sensible scale.

    Norm scales become 1 + noise and biases small noise (not 1 and 0), so that two tensors of
    the same shape never hold equal values and a swapped key in a converter cannot go unseen;
    no layer is left zero-initialised, so the UNet's output is never identically zero.
    """
    generator = torch.Generator().manual_seed(seed)
    for name, param in sorted(model.named_parameters()):
        noise = torch.randn(param.shape, generator=generator, dtype=torch.float32)
        if param.ndim >= 2:
            fan_in = param[0].numel()
            value = noise / math.sqrt(fan_in)
        elif name.endswith("weight"):  # GroupNorm / LayerNorm scale
            value = 1.0 + 0.1 * noise
        else:
            value = 0.05 * noise
        param.copy_(value.to(param.dtype))


def build_tiny_components(seed: int = 0, in_channels: int = 4) -> dict:
    """Tiny SD 1.x components: keys unet, vae, text_encoder, tokenizer, scheduler.

    `in_channels=8` gives an Instruct-Pix2Pix-shaped UNet. The global torch RNG is left as found.
    """
    tokenizer = build_tiny_tokenizer()
    with torch.random.fork_rng(devices=[]):  # module constructors draw from the global RNG
        unet = UNet2DConditionModel(**tiny_unet_config(in_channels))
        vae = AutoencoderKL(**tiny_vae_config())
        text_encoder = CLIPTextModel(tiny_text_config(tokenizer))
    for offset, model in enumerate((unet, vae, text_encoder)):
        randomize_(model, seed * 1000 + offset)
        model.eval()
    return {
        "unet": unet,
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
        "scheduler": DDIMScheduler(**SD1_SCHEDULER),
    }


def build_tiny_pipeline(seed: int = 0, in_channels: int = 4) -> StableDiffusionPipeline:
    return StableDiffusionPipeline(
        **build_tiny_components(seed, in_channels),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


# --------------------------------------------------------------------------------------------
# Saving


def save_tiny_folder(path: str | Path, seed: int = 0, in_channels: int = 4) -> Path:
    """Save the tiny pipeline as a diffusers folder that `StableDiffusionPipeline.from_pretrained` loads."""
    path = Path(path)
    build_tiny_pipeline(seed, in_channels).save_pretrained(path)
    return path


def save_tiny_depth_model(path: str | Path, seed: int = 0) -> Path:
    """A DPT depth-estimation model with random weights (30 k parameters) saved with its image
    processor, as transformers' from_pretrained reads it (a folder, or a hub cache snapshot)."""
    from transformers import DPTConfig, DPTForDepthEstimation
    from transformers.models.dpt.image_processing_pil_dpt import DPTImageProcessorPil

    config = DPTConfig(
        hidden_size=16,
        num_hidden_layers=4,
        num_attention_heads=2,
        intermediate_size=32,
        image_size=32,
        patch_size=8,
        backbone_out_indices=[0, 1, 2, 3],
        reassemble_factors=[4, 2, 1, 0.5],
        neck_hidden_sizes=[8, 8, 8, 8],
        fusion_hidden_size=8,
        head_hidden_size=8,
    )
    torch.manual_seed(seed)
    path = Path(path)
    DPTForDepthEstimation(config).save_pretrained(path)
    DPTImageProcessorPil(size={"height": 32, "width": 32}, keep_aspect_ratio=False).save_pretrained(path)
    return path


def save_config_folder(pipe: StableDiffusionPipeline, path: str | Path) -> Path:
    """Write `pipe`'s configurations (no weights) as the folder `from_single_file(config=...)` reads."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    pipe.save_config(path)  # model_index.json
    pipe.unet.save_config(path / "unet")
    pipe.vae.save_config(path / "vae")
    pipe.text_encoder.config.save_pretrained(path / "text_encoder")
    pipe.scheduler.save_config(path / "scheduler")
    pipe.tokenizer.save_pretrained(path / "tokenizer")
    return path


def save_tiny_single_file(path: str | Path, seed: int = 0, in_channels: int = 4) -> tuple[Path, Path]:
    """Write the tiny weights as one original-format (LDM) checkpoint plus its diffusers config folder.

    Returns (`path/tiny-sd.safetensors`, `path/tiny-sd-config/`), ready for
    `StableDiffusionPipeline.from_single_file(ckpt, config=str(config_folder), ...)`.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    pipe = build_tiny_pipeline(seed, in_channels)
    ckpt = path / CHECKPOINT_NAME
    checkpoint = to_ldm_checkpoint(pipe.unet, pipe.vae, pipe.text_encoder)
    save_file({key: value.contiguous().clone() for key, value in checkpoint.items()}, str(ckpt))
    return ckpt, save_config_folder(pipe, path / CONFIG_FOLDER_NAME)


# --------------------------------------------------------------------------------------------
# diffusers -> LDM (CompVis) key conversion, the inverse of diffusers' single-file loading

# ResnetBlock2D leaves: diffusers name -> LDM ResBlock name
UNET_RESNET_LEAVES = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "time_emb_proj": "emb_layers.1",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "conv_shortcut": "skip_connection",
}
UNET_TOP_LEVEL = {
    "conv_in": "input_blocks.0.0",
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
}
VAE_TOP_LEVEL = {
    "encoder.conv_in": "encoder.conv_in",
    "encoder.conv_norm_out": "encoder.norm_out",
    "encoder.conv_out": "encoder.conv_out",
    "decoder.conv_in": "decoder.conv_in",
    "decoder.conv_norm_out": "decoder.norm_out",
    "decoder.conv_out": "decoder.conv_out",
    "quant_conv": "quant_conv",
    "post_quant_conv": "post_quant_conv",
}
# VAE mid-block attention: diffusers (linear layers) -> LDM AttnBlock (1x1 convolutions)
VAE_ATTENTION_LEAVES = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}


def _rename_leaf(rest: str, leaves: dict[str, str]) -> str:
    """Rename the leading module of `rest` ("norm1.weight" -> "in_layers.0.weight")."""
    for old, new in leaves.items():
        if rest.startswith(old + "."):
            return new + rest[len(old) :]
    raise KeyError(rest)


def _split_top_level(key: str, table: dict[str, str]) -> str | None:
    for old, new in table.items():
        if key.startswith(old + "."):
            return new + key[len(old) :]
    return None


def unet_key_to_ldm(key: str, config) -> str:
    """One UNet2DConditionModel key -> its key under `model.diffusion_model.` (SD 1.x/2.x layout).

    LDM numbers the UNet's blocks flat: input_blocks.0 is conv_in, then each down level holds
    `layers_per_block` (resnet, attention) entries and, except the last, one downsampler; each up
    level holds `layers_per_block + 1` entries, its last also carrying the upsampler.
    """
    top = _split_top_level(key, UNET_TOP_LEVEL)
    if top is not None:
        return top
    per_level = config["layers_per_block"]
    if not isinstance(per_level, int):
        raise NotImplementedError("per-level layers_per_block has no LDM layout")
    parts = key.split(".")
    group = parts[0]

    if group == "down_blocks":
        level, kind = int(parts[1]), parts[2]
        first = 1 + level * (per_level + 1)
        if kind == "downsamplers":  # down_blocks.L.downsamplers.0.conv.*
            return f"input_blocks.{first + per_level}.0.op." + ".".join(parts[5:])
        index, rest = first + int(parts[3]), ".".join(parts[4:])
        if kind == "resnets":
            return f"input_blocks.{index}.0." + _rename_leaf(rest, UNET_RESNET_LEAVES)
        if kind == "attentions":
            return f"input_blocks.{index}.1." + rest

    if group == "mid_block":
        kind, index, rest = parts[1], int(parts[2]), ".".join(parts[3:])
        if kind == "resnets":  # middle_block.0 and .2
            return f"middle_block.{2 * index}." + _rename_leaf(rest, UNET_RESNET_LEAVES)
        if kind == "attentions":  # middle_block.1
            return "middle_block.1." + rest

    if group == "up_blocks":
        level, kind = int(parts[1]), parts[2]
        first = level * (per_level + 1)
        if kind == "upsamplers":  # up_blocks.L.upsamplers.0.conv.*
            has_attention = "CrossAttn" in config["up_block_types"][level]
            slot = 2 if has_attention else 1
            return f"output_blocks.{first + per_level}.{slot}.conv." + ".".join(parts[5:])
        index, rest = first + int(parts[3]), ".".join(parts[4:])
        if kind == "resnets":
            return f"output_blocks.{index}.0." + _rename_leaf(rest, UNET_RESNET_LEAVES)
        if kind == "attentions":
            return f"output_blocks.{index}.1." + rest

    raise KeyError(f"no LDM name for UNet key {key!r}")


def _vae_resnet_leaf(rest: str) -> str:
    """VAE resnets keep diffusers' names except the shortcut (LDM: nin_shortcut)."""
    return "nin_shortcut" + rest[len("conv_shortcut") :] if rest.startswith("conv_shortcut.") else rest


def vae_key_to_ldm(key: str, config) -> str:
    """One AutoencoderKL key -> its key under `first_stage_model.`.

    LDM numbers the decoder's levels from the bottom (up.0 is the full-resolution level), diffusers
    from the top, hence `levels - 1 - i`.
    """
    top = _split_top_level(key, VAE_TOP_LEVEL)
    if top is not None:
        return top
    parts = key.split(".")
    coder, group = parts[0], parts[1]  # encoder/decoder, down_blocks/up_blocks/mid_block

    if group == "mid_block":
        kind, index, rest = parts[2], int(parts[3]), ".".join(parts[4:])
        if kind == "resnets":
            return f"{coder}.mid.block_{index + 1}." + _vae_resnet_leaf(rest)
        if kind == "attentions":
            return f"{coder}.mid.attn_{index + 1}." + _rename_leaf(rest, VAE_ATTENTION_LEAVES)

    if group in ("down_blocks", "up_blocks"):
        level, kind = int(parts[2]), parts[3]
        if group == "up_blocks":
            level = len(config["up_block_types"]) - 1 - level
        name = "down" if group == "down_blocks" else "up"
        if kind in ("downsamplers", "upsamplers"):  # X.downsamplers.0.conv.* -> X.downsample.conv.*
            return f"{coder}.{name}.{level}.{kind[:-2]}." + ".".join(parts[5:])
        if kind == "resnets":
            index, rest = int(parts[4]), ".".join(parts[5:])
            return f"{coder}.{name}.{level}.block.{index}." + _vae_resnet_leaf(rest)

    raise KeyError(f"no LDM name for VAE key {key!r}")


def text_encoder_key_to_ldm(key: str) -> str:
    """CLIPTextModel key -> its key under `cond_stage_model.transformer.` (SD 1.x).

    transformers >= 5.6 flattened CLIPTextModel (no `text_model.` level); LDM keys keep it.
    """
    return key if key.startswith("text_model.") else "text_model." + key


def vae_ldm_state(vae: AutoencoderKL) -> dict[str, torch.Tensor]:
    """The VAE's tensors under their LDM keys (`first_stage_model.`; SD 1.x, 2.x and SDXL alike)."""
    out = {}
    for key, value in vae.state_dict().items():
        ldm_key = vae_key_to_ldm(key, vae.config)
        if ".mid.attn_" in ldm_key and ldm_key.endswith(".weight") and value.ndim == 2:
            value = value[:, :, None, None]  # linear -> 1x1 convolution
        out[LDM_VAE + ldm_key] = value
    return out


def to_ldm_checkpoint(
    unet: UNet2DConditionModel, vae: AutoencoderKL, text_encoder: CLIPTextModel
) -> dict[str, torch.Tensor]:
    """All three models as one SD 1.x original-format state dict (views of the models' tensors)."""
    checkpoint: dict[str, torch.Tensor] = {}
    for key, value in unet.state_dict().items():
        checkpoint[LDM_UNET + unet_key_to_ldm(key, unet.config)] = value
    checkpoint.update(vae_ldm_state(vae))
    for key, value in text_encoder.state_dict().items():
        checkpoint[LDM_CLIP + text_encoder_key_to_ldm(key)] = value
    return {key: value.detach() for key, value in checkpoint.items()}
