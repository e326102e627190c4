"""Architecture of the demo model: one config dataclass and builders for each component."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers import AutoencoderKL, DDIMScheduler, DDPMScheduler, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, PreTrainedTokenizerFast

from .data import IMAGE_SIZE

# SD 1.x's noise schedule, so the method's T=941 / T'=881 mean the same thing as with SD. Two
# recipes train on it (TrainSettings.schedule):
# - "sd": SD's betas with noise (epsilon) prediction, sampled with SD's "leading" DDIM timesteps.
#   At t=999 x_T keeps sqrt(alpha_bar) = 0.068 of the picture, so a flat background's per-channel
#   mean leaks into it, and the model learns to read the background from the starting noise's mean
#   instead of the caption (the demo model committed 2026-11-27: removing that mean gave the same
#   grey for every seed and prompt).
# - "zero-snr": the betas rescaled to zero terminal SNR (Lin et al. 2023, "Common Diffusion Noise
#   Schedules and Sample Steps are Flawed", 3.1), which needs v-prediction (epsilon says nothing
#   about x0 at SNR 0) and "trailing" timesteps whose first step is t=999 (3.3). Its trials learn
#   every background (benchmarks/RESULTS.md).
BETAS = dict(num_train_timesteps=1000, beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
SCHEDULES: dict[str, dict] = {
    "sd": dict(BETAS, rescale_betas_zero_snr=False, prediction_type="epsilon"),
    "zero-snr": dict(BETAS, rescale_betas_zero_snr=True, prediction_type="v_prediction"),
}

# Where every trial lost squares: the middle of the schedule, where the picture starts to fix a
# polygon's turn (one-step x0 predictions of squares fall from 58% at t=300 to 0% at t=700 on the
# fifth trial's weights; RESULTS.md, "sixth trial"). Drawing half the timesteps there (the seventh
# trial, --mid-share 0.5) did not keep them: shape 67% against 77%, so the default draws uniformly.
MID_TIMESTEPS = (300, 700)


@dataclass(frozen=True)
class DemoConfig:
    vae_channels: tuple[int, ...] = (32, 64, 64)  # 3 levels: downsampling 4, 16x16 latents
    vae_layers: int = 1
    vae_groups: int = 16
    latent_channels: int = 4
    unet_channels: tuple[int, ...] = (64, 128, 128)
    unet_layers: int = 1
    unet_heads: int = 4
    unet_groups: int = 32
    text_width: int = 64
    text_layers: int = 3
    text_heads: int = 4

    @property
    def latent_size(self) -> int:
        return IMAGE_SIZE // 2 ** (len(self.vae_channels) - 1)


TINY = DemoConfig(
    vae_channels=(8, 16), vae_groups=4, unet_channels=(16, 32), unet_heads=2, unet_groups=8,
    text_width=16, text_layers=1, text_heads=2,
)


def build_vae(cfg: DemoConfig) -> AutoencoderKL:
    n = len(cfg.vae_channels)
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * n,
        up_block_types=("UpDecoderBlock2D",) * n,
        block_out_channels=cfg.vae_channels,
        layers_per_block=cfg.vae_layers,
        latent_channels=cfg.latent_channels,
        norm_num_groups=cfg.vae_groups,
        sample_size=IMAGE_SIZE,
    )
    # Start with a small posterior std (logvar -6): the decoder then sees clean latents from the
    # first step instead of unit noise, which the small KL weight would only slowly remove.
    with torch.no_grad():
        vae.quant_conv.bias[cfg.latent_channels :] = -6.0
    return vae


def build_unet(cfg: DemoConfig) -> UNet2DConditionModel:
    n = len(cfg.unet_channels)
    return UNet2DConditionModel(
        sample_size=cfg.latent_size,
        in_channels=cfg.latent_channels,
        out_channels=cfg.latent_channels,
        # Plain resnets at the full latent resolution, cross-attention on the coarser levels.
        down_block_types=("DownBlock2D",) + ("CrossAttnDownBlock2D",) * (n - 1),
        up_block_types=("CrossAttnUpBlock2D",) * (n - 1) + ("UpBlock2D",),
        block_out_channels=cfg.unet_channels,
        layers_per_block=cfg.unet_layers,
        norm_num_groups=cfg.unet_groups,
        cross_attention_dim=cfg.text_width,
        attention_head_dim=cfg.unet_heads,  # diffusers' name for the number of heads
    )


def build_text_encoder(cfg: DemoConfig, tokenizer: PreTrainedTokenizerFast) -> CLIPTextModel:
    config = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=cfg.text_width,
        intermediate_size=4 * cfg.text_width,
        num_hidden_layers=cfg.text_layers,
        num_attention_heads=cfg.text_heads,
        max_position_embeddings=tokenizer.model_max_length,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return CLIPTextModel(config)


def build_train_scheduler(schedule: str) -> DDPMScheduler:
    """The forward process of ``schedule`` (a key of SCHEDULES); KeyError for any other."""
    return DDPMScheduler(**SCHEDULES[schedule], clip_sample=False)


def build_sample_scheduler(schedule: str) -> DDIMScheduler:
    """DDIM for ``schedule``. "sd": SD 1.x's own sampler config ("leading" timesteps 951, 901, ...
    for 20 steps; the last step goes to alpha_bar at t=0). "zero-snr": "trailing" timesteps (999,
    949, ...), so the first step starts from pure noise as in training and the last goes to
    alpha_bar = 1 (Lin et al. 2023, 3.3)."""
    # steps_offset=1 is SD's; "trailing" ignores it, and it keeps StableDiffusionPipeline from warning.
    if schedule == "sd":
        return DDIMScheduler(**SCHEDULES[schedule], steps_offset=1, clip_sample=False, set_alpha_to_one=False,
                             timestep_spacing="leading")
    return DDIMScheduler(**SCHEDULES[schedule], steps_offset=1, clip_sample=False, set_alpha_to_one=True,
                         timestep_spacing="trailing")


def count_parameters(module) -> int:
    return sum(p.numel() for p in module.parameters())
