"""Train the demo model's Canny ControlNet, so that edge-guided editing works with no download.

    python -m t2vz_desktop.demo_model.train_controlnet --out resources/models/demo/controlnet-canny  # its card has the flags

The recipe of the ControlNet paper (Zhang et al. 2023, "Adding Conditional Control to Text-to-Image
Diffusion Models", 3.2-3.3 and 4): a trainable copy of the base UNet's encoder and middle block
(diffusers' ``ControlNetModel.from_unet``) joined to the frozen base by zero convolutions, so that
training starts from the base model exactly; the base's own loss (here v-prediction with the
base's min-SNR weighting, train.py) on images whose condition is their own edge map; half the
captions replaced by empty ones, so that it learns to read the edges alone. The condition is the
one the editor makes from a source frame at the model's size (conditions/canny.py with the edit's
default thresholds), drawn from the base's own training scenes. The result is an ordinary
diffusers ControlNetModel folder, written to a temporary folder and renamed into place.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..arguments import OneLineParser, number
from ..conditions.canny import canny_condition
from ..engine.models import demo_model_dir
from ..engine.request import EditSpec
from . import data
from .model import count_parameters
from .settings import TrainSettings
from .train import (
    EMA, Schedule, ThreadAdapter, diffusion_loss, encode_all, first_last_means, make_readable, optimiser_step,
    out_problem, training_timesteps, write_folder_atomically, write_training_record,
)

FOLDER_NAME = "controlnet-canny"  # inside the demo model's folder, which the editor looks in
# The condition embedding downsamples by 2 per entry after the first: the demo VAE's 4x, not SD's 8x.
CONDITION_CHANNELS = (16, 32, 64)


@dataclass
class ControlNetSettings:
    out: Path
    base: Path
    minutes: float = 50.0
    seed: int = 1
    threads: int = 2
    num_images: int = 4 * 6480
    batch: int = 32
    lr: float = 3e-4
    warmup_steps: int = 100
    ema_decay: float = 0.995
    caption_dropout: float = 0.5  # the ControlNet paper's 50%
    steps: int | None = None  # fixed steps instead of the time budget (tests)


def edge_maps(images: np.ndarray) -> torch.Tensor:
    """Canny conditions of uint8 images (n, h, w, 3) as the editor makes them (its default
    thresholds), float (n, 3, h, w) in [0, 1] as the engine hands them to a ControlNet."""
    low, high = (EditSpec.__dataclass_fields__[k].default for k in ("canny_low", "canny_high"))
    edges = np.stack([canny_condition(im, low, high) for im in images])
    return torch.from_numpy(edges).permute(0, 3, 1, 2).float() / 255.0


def load_base(base: Path):
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel, PreTrainedTokenizerFast

    vae = AutoencoderKL.from_pretrained(base / "vae").eval()
    unet = UNet2DConditionModel.from_pretrained(base / "unet").eval()
    text_encoder = CLIPTextModel.from_pretrained(base / "text_encoder").eval()
    tokenizer = PreTrainedTokenizerFast.from_pretrained(base / "tokenizer")
    noise_scheduler = DDPMScheduler.from_pretrained(base / "scheduler")  # the base's forward process
    for m in (vae, unet, text_encoder):
        m.requires_grad_(False)
    return vae, unet, text_encoder, tokenizer, noise_scheduler


def base_loss_weighting(base: Path) -> tuple[float, float]:
    """The min-SNR gamma and floor the base was trained with (its training_info.json; today's
    defaults for a base without one), so the ControlNet learns under the base's own loss."""
    info = base / "training_info.json"
    settings = json.loads(info.read_text()).get("settings", {}) if info.is_file() else {}
    return (float(settings.get("snr_gamma", TrainSettings.snr_gamma)),
            float(settings.get("terminal_weight", TrainSettings.terminal_weight)))


def train_controlnet(s: ControlNetSettings) -> dict:
    """Train and write the ControlNet to ``s.out``; returns its training_info."""
    from diffusers import ControlNetModel

    torch.manual_seed(s.seed)
    torch.set_num_threads(s.threads)
    started = time.monotonic()
    vae, unet, text_encoder, tokenizer, noise_scheduler = load_base(s.base)
    images, scenes = data.make_dataset(s.num_images, s.seed, "continuous", upright_share=0.5)
    conditions = edge_maps(images)  # (n, 3, 64, 64)
    means, stds = encode_all(vae, images)
    scale = vae.config.scaling_factor
    net = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=CONDITION_CHANNELS)
    net.train()

    gen = torch.Generator().manual_seed(s.seed + 20)
    rng = np.random.default_rng(s.seed + 21)
    weighting = base_loss_weighting(s.base)
    alphas_cumprod = noise_scheduler.alphas_cumprod
    snr_all = alphas_cumprod / (1 - alphas_cumprod)
    params = list(net.parameters())
    opt = torch.optim.AdamW(params, lr=s.lr, weight_decay=1e-2)
    ema = EMA([net], s.ema_decay)
    seconds = max(1.0, s.minutes * 60.0 - (time.monotonic() - started) - 30.0)
    sched = Schedule(s.lr, warmup=s.warmup_steps, max_steps=s.steps, seconds=seconds)
    rows, losses, step = [], [], 0
    bar = tqdm(total=s.steps, desc="controlnet", unit="step", dynamic_ncols=True)
    adapt_threads = ThreadAdapter(s.threads)
    while not sched.done(step):
        adapt_threads()
        idx = torch.randint(0, len(scenes), (s.batch,), generator=gen)
        z0 = (means[idx] + stds[idx] * torch.randn(means[idx].shape, generator=gen)) * scale  # (b, 4, 16, 16)
        prompts = ["" if rng.random() < s.caption_dropout else data.random_caption(scenes[i], rng)
                   for i in idx.tolist()]
        ids = tokenizer(prompts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                        return_tensors="pt").input_ids
        noise = torch.randn(z0.shape, generator=gen)
        t = training_timesteps(s.batch, noise_scheduler.config.num_train_timesteps, 0.0, gen)
        zt = noise_scheduler.add_noise(z0, noise, t)
        with torch.no_grad():
            context = text_encoder(ids)[0]
        down, mid = net(zt, t, encoder_hidden_states=context, controlnet_cond=conditions[idx], return_dict=False)
        pred = unet(zt, t, context, down_block_additional_residuals=down, mid_block_additional_residual=mid).sample
        loss, per_sample = diffusion_loss(noise_scheduler, pred, z0, noise, t, snr_all[t], *weighting)
        optimiser_step(opt, params, loss, sched.lr(step), ema)
        losses.append(per_sample.mean().item())
        step += 1
        rows.append(("controlnet", step, f"{losses[-1]:.6f}", f"{sched.lr(step):.3e}",
                     f"{time.monotonic() - started:.1f}", torch.get_num_threads()))
        bar.update(1)
        bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}")
    bar.close()
    ema.copy_to([net])
    net.eval()
    info = {
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(s).items()},
        "seconds": round(time.monotonic() - started, 1),
        "steps": step,
        "loss_first_last": first_last_means(losses, 50),
        "parameters": count_parameters(net),
        "torch": torch.__version__,
    }

    def write(folder: Path) -> None:
        net.save_pretrained(folder, safe_serialization=True)
        write_training_record(folder, info, rows)
        from .evaluate_controlnet import card_text

        (folder / "README.md").write_text(card_text(folder) + "\n")
        make_readable(folder)

    write_folder_atomically(s.out, write)
    return info


def build_parser() -> OneLineParser:
    p = OneLineParser(prog="python -m t2vz_desktop.demo_model.train_controlnet", description=__doc__.split("\n\n")[0])
    d = ControlNetSettings
    p.add_argument("--base", type=Path, default=demo_model_dir(), help="the demo model it is made for (default: the"
                   " built-in one)")
    p.add_argument("--out", type=Path, required=True,
                   help=f"folder to write, replaced whole; the editor uses the one named {FOLDER_NAME} inside the base"
                        f" model's folder (resources/models/demo/{FOLDER_NAME} for the built-in one)")
    p.add_argument("--minutes", type=number(float, 0.0, above=True), default=d.minutes,
                   help="training budget, data preparation included (default %(default)s)")
    p.add_argument("--seed", type=number(int, 0, 2**32 - 1), default=d.seed, help="(default %(default)s)")
    p.add_argument("--threads", type=number(int, 1), default=d.threads, help="torch CPU threads (default %(default)s)")
    p.add_argument("--num-images", type=number(int, 1), default=d.num_images,
                   help="training images (default %(default)s)")
    p.add_argument("--batch", type=number(int, 1), default=d.batch, help="images per step (default %(default)s)")
    p.add_argument("--lr", type=number(float, 0.0, above=True), default=d.lr, help="AdamW (default %(default)s)")
    p.add_argument("--steps", type=number(int, 1), default=None, help="fixed steps instead of the time budget")
    return p


# What a folder written here holds: training replaces the whole folder, so it may hold only these.
FOLDER_PARTS = {"config.json", "diffusion_pytorch_model.safetensors", "README.md", "evaluation.json",
                "training_info.json", "training_log.csv"}


def parse_args(argv: list[str] | None = None) -> ControlNetSettings:
    """Settings from the command line; a bad value, a --base that is not a demo model or an --out
    that training may not replace exits 2 with one line before any work."""
    p = build_parser()
    a = p.parse_args(argv)
    if not (a.base / "unet" / "config.json").is_file() or not (a.base / "t2vz.json").is_file():
        p.error(f"--base {a.base}: not a demo model folder (no unet/config.json or t2vz.json)")
    out = a.out
    problem = out_problem(out, FOLDER_PARTS, "ControlNet")
    if problem:
        p.error(f"--out {out}: {problem}")
    return ControlNetSettings(out=out, base=a.base, minutes=a.minutes, seed=a.seed, threads=a.threads,
                              num_images=a.num_images, batch=a.batch, lr=a.lr, steps=a.steps)


def main(argv: list[str] | None = None) -> dict:
    s = parse_args(argv)
    info = train_controlnet(s)
    print(f"wrote {s.out} in {info['seconds'] / 60:.1f} min ({info['steps']} steps)")
    return info


if __name__ == "__main__":
    main()
