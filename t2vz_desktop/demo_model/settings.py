"""The demo model's training recipe: every setting ``train.py`` takes, and its defaults.

Its own module so that the card (card.py, which train.py imports) can say which settings of a
model differ from today's defaults without importing the trainer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import data
from .model import DemoConfig

# "bf16" runs the UNet phase's forward pass under CPU autocast (weights, gradients, optimiser
# and loss stay fp32, as in mixed-precision training on GPUs). On CPUs with AVX512-BF16 or AMX
# train_unet's step is ~28% shorter (benchmarks/demo_train_step.py: 0.57-0.61 s against 0.76-0.85 s);
# the tenth trial's run was not, because its OpenMP threads waited passively (RESULTS.md; the
# trainer keeps OpenMP's default since). Elsewhere bf16 is emulated and slower.
PRECISIONS = ("fp32", "bf16")

# training_info.json's first and last losses are means over this many steps of each phase.
LOSS_MEAN_STEPS = {"vae": 20, "unet": 50}


@dataclass
class TrainSettings:
    out: Path
    minutes: float = 108.0
    vae_share: float = 0.22  # fraction of the budget for the VAE phase
    vae_crop: int = data.IMAGE_SIZE // 2  # crop size for the first part of the VAE phase (0: never crop)
    vae_crop_share: float = 0.6  # fraction of the VAE phase spent on crops
    seed: int = 0
    threads: int = 2
    num_images: int = 4 * 6480
    placement: str = "continuous"  # data.PLACEMENTS
    vae_batch: int = 16
    vae_lr: float = 2e-3
    kl_weight: float = 1e-4
    unet_batch: int = 48
    unet_lr: float = 5e-4
    warmup_steps: int = 200
    ema_decay: float = 0.998
    upright_share: float = 0.5  # data.placement: polygons drawn upright, the rest turned at random
    schedule: str = "zero-snr"  # model.SCHEDULES
    snr_gamma: float = 5.0
    mid_share: float = 0.0  # share of each batch's timesteps drawn from MID_TIMESTEPS instead of all
    terminal_weight: float = 0.02  # x0-loss weight added at every timestep, so t=999 still learns ("zero-snr")
    offset_noise: float = 0.0  # std of a per-image, per-channel constant added to the training noise
    shape_weights: dict[str, float] | None = None  # data.sample_scenes: None gives every shape a quarter
    caption_dropout: float = 0.1
    precision: str = "fp32"  # PRECISIONS: the UNet phase's forward pass ("bf16": autocast, fp32 weights and loss)
    judge_every: int = 500  # UNet steps between judgements of sampled stills (judge.py); 0: never, keep the last EMA
    judge_per_shape: int = 16
    vae_steps: int | None = None  # fixed step counts instead of the time budget (tests)
    unet_steps: int | None = None
    tiny: bool = False
    config: DemoConfig = field(default_factory=DemoConfig)


# --tiny (tests) swaps in these, where the command line does not name them.
TINY_VAE_BATCH, TINY_UNET_BATCH, TINY_WARMUP_STEPS, TINY_STEPS, TINY_NUM_IMAGES = 8, 8, 5, 30, 256


def default_unet_batch(tiny: bool) -> int:
    return TINY_UNET_BATCH if tiny else TrainSettings.unet_batch
