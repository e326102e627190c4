"""Train the built-in demo model from scratch on procedurally drawn scenes.

    python -m t2vz_desktop.demo_model.train   # re-makes the built-in model (its card has the exact flags)

Phase 1 trains the AutoencoderKL (L1 + MSE + edge loss + a small KL term). The training images
are then encoded once; ``scaling_factor`` is set so the scaled latents have unit variance.
Phase 2 trains the UNet and the text encoder jointly, as in diffusers' text-to-image example:
by default v-prediction on SD 1.x's betas rescaled to zero terminal SNR (Lin et al. 2023; the
original noise-prediction recipe is ``--schedule sd``), min-SNR weighting with a floor,
AdamW, linear warm-up then cosine decay, EMA weights, and 10% empty captions for
classifier-free guidance; every ``--judge-every`` steps the EMA weights sample stills, and the
weights that drew most of them right are the saved ones (judge.py). ``--minutes`` is split
between the phases; the learning-rate schedules follow elapsed time, so the run ends on time on
any machine (``--vae-steps``/``--unet-steps`` fix the steps instead, so that pauses do not change
the result). The result is an ordinary StableDiffusionPipeline folder, written to a temporary
folder and renamed into place.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .. import OPENMP_WAIT_POLICY, PASSIVE_SET_HERE, TRAINER_MODULE
from ..arguments import OneLineParser, number
from ..engine.models import demo_model_dir
from . import data
from .card import write_model_card
from .model import (
    MID_TIMESTEPS, SCHEDULES, TINY, build_sample_scheduler, build_text_encoder, build_train_scheduler,
    build_unet, build_vae, count_parameters,
)
from .judge import MAX_PER_SHAPE, Judging, StillJudge
from .settings import (
    LOSS_MEAN_STEPS, PRECISIONS, TINY_NUM_IMAGES, TINY_STEPS, TINY_UNET_BATCH, TINY_VAE_BATCH, TINY_WARMUP_STEPS,
    TrainSettings, default_unet_batch,
)
from .tokenizer import build_tokenizer

# Recommended sampling defaults. With 20 steps the timesteps are 951, 901, ... ("sd") or 999,
# 949, ... ("zero-snr"): T=941 and T'=881 fall on distinct steps either way.
# T/T' far lower than the paper's 941/881: with 16x16 latents this small UNet settles where the
# object is late in the schedule, so frames restarted at T=741 draw it anew in their own place
# (centroid residual 7.9 px around a straight track over 16 test videos); at 401/301 they keep the
# anchor's object where the motion field puts it (3.7 px).
# Euler ancestral, not DDIM: the noise each step adds lets the sampler leave the round average of
# a polygon's possible turns that deterministic DDIM follows; on the built-in model's 120 evaluation
# videos it read shapes 79% against DDIM's 69% (squares 70 against 51%), colour and background
# unchanged, warping error 0.00085 against 0.00079; with the engine's shared step noise (its
# default since) 77% and 0.00063 (benchmarks/RESULTS.md, 2026-12-05).
DEFAULTS = {"steps": 20, "guidance": 5.0, "scheduler": "euler-a", "height": data.IMAGE_SIZE, "width": data.IMAGE_SIZE,
            "fps": 8, "t_restart": 401, "t_warp": 301}


def cpu_lacks_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """True where the CPU flags are readable (Linux) and name neither AVX512-BF16 nor AMX-BF16."""
    try:
        flags = set(cpuinfo.read_text().split())
    except OSError:
        return False
    return not flags & {"avx512_bf16", "amx_bf16"}


@dataclass
class TrainResult:
    folder: Path
    vae_losses: list[float]
    unet_losses: list[float]
    seconds: float


class EMA:
    """Exponential moving average of parameters, with diffusers' warm-up of the decay."""

    def __init__(self, modules: list[torch.nn.Module], decay: float):
        self.decay = decay
        self.params = [p for m in modules for p in m.parameters()]
        self.shadow = [p.detach().clone() for p in self.params]
        self.updates = 0

    @torch.no_grad()
    def update(self) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        torch._foreach_lerp_(self.shadow, [p.detach() for p in self.params], 1 - decay)

    @torch.no_grad()
    def copy_to(self, modules: list[torch.nn.Module], weights: list[torch.Tensor] | None = None) -> None:
        """Copy the shadow (or ``weights``, a list shaped as the shadow) into ``modules``."""
        for p, s in zip([p for m in modules for p in m.parameters()], self.shadow if weights is None else weights):
            p.copy_(s)

    @contextmanager
    def applied(self, modules: list[torch.nn.Module]):
        """The shadow in ``modules`` in eval mode for the ``with`` block; the training weights
        and modes come back after it."""
        kept = [p.detach().clone() for p in self.params]
        modes = [m.training for m in modules]
        self.copy_to(modules)
        for m in modules:
            m.eval()
        try:
            yield
        finally:
            with torch.no_grad():
                for p, k in zip(self.params, kept):
                    p.copy_(k)
            for m, mode in zip(modules, modes):
                m.train(mode)


class Schedule:
    """Linear warm-up, then cosine decay to 5% over the steps or the seconds allowed."""

    def __init__(self, base_lr: float, warmup: int, max_steps: int | None, seconds: float):
        self.base_lr, self.warmup, self.max_steps, self.seconds = base_lr, warmup, max_steps, seconds
        self.start = time.monotonic()

    def progress(self, step: int) -> float:
        if self.max_steps is not None:
            return step / self.max_steps
        return (time.monotonic() - self.start) / self.seconds

    def lr(self, step: int) -> float:
        warm = min(1.0, (step + 1) / max(1, self.warmup))
        cosine = 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, self.progress(step))))
        return self.base_lr * warm * cosine

    def done(self, step: int) -> bool:
        return self.progress(step) >= 1.0


def runnable_threads() -> tuple[int, int] | None:
    """Threads that run or wait for a CPU right now: (on the whole machine, of them this
    process's). /proc/stat's ``procs_running`` and the state field of each
    /proc/self/task/*/stat (proc(5)); None where there is no /proc (macOS, Windows)."""
    try:
        with open("/proc/stat") as f:
            machine = next(int(line.split()[1]) for line in f if line.startswith("procs_running "))
        tasks = os.listdir("/proc/self/task")
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    own = 0
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/stat") as f:
                own += f.read().rpartition(")")[2].split()[0] == "R"  # the name may hold spaces
        except (OSError, IndexError):
            continue  # the thread ended since listdir
    return machine, own


class ThreadAdapter:
    """Use ``max_threads`` only while other processes leave the CPUs to this one.

    On a shared machine a multi-threaded step waits for whichever of its threads was
    descheduled; with other jobs running one thread is faster (measured 2026-11-26 on the VAE of
    then: a step of batch 16 ~7 s with 2 threads against ~2 s with 1 while four other processes
    ran on 2 cores).
    Call it once a step. Each call samples the machine's runnable threads less this process's
    own (``runnable_threads``: what other processes want, not the share they get beside this
    one's threads); at the first call after ``interval_s`` the mean of the samples sets the
    thread count, so with steps well under ``interval_s`` a neighbour that starts or stops is
    followed within one to two intervals. /proc/stat counts the whole kernel's threads, so in a
    container on a larger host other containers count as neighbours. Where /proc is missing the
    1-minute load average less the threads torch is set to use stands in (it follows a change
    in 45 s to 5 minutes); where neither exists the thread count stays.
    """

    def __init__(self, max_threads: int, interval_s: float = 5.0, sample=runnable_threads,
                 clock=time.monotonic, cpus: int | None = None):
        self.max_threads, self.interval_s, self.sample, self.clock = max_threads, interval_s, sample, clock
        self.cpus = cpus or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()) or 1
        self.samples: list[int] = []
        self.since = clock()

    def others(self) -> float | None:
        """Mean runnable threads of other processes since the last decision; None where the
        machine gives no measure."""
        if self.samples:
            return sum(self.samples) / len(self.samples)
        if hasattr(os, "getloadavg"):
            return max(0.0, os.getloadavg()[0] - torch.get_num_threads())
        return None

    def threads(self, others: float | None) -> int:
        """Threads to run beside ``others``, the mean count of other processes' runnable threads:
        one CPU fewer for each whole one, a total within 0.2 of a whole counting as whole (a busy
        neighbour sleeps now and then), so two neighbours each runnable 40% of the time also cost
        a CPU."""
        if others is None:
            return torch.get_num_threads()
        free = self.cpus - math.floor(others + 0.2)
        return max(1, min(self.max_threads, free))

    def __call__(self) -> None:
        reading = self.sample()
        if reading is not None:
            self.samples.append(max(0, reading[0] - reading[1]))
        now = self.clock()
        if now - self.since < self.interval_s:
            return
        want = self.threads(self.others())
        self.samples, self.since = [], now
        if want != torch.get_num_threads():
            torch.set_num_threads(want)


def first_last_means(losses: list[float], n: int) -> list[float]:
    return [float(np.mean(losses[:n])), float(np.mean(losses[-n:]))]


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (n, h, w, 3) -> float (n, 3, h, w) in [-1, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def edge_loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """L1 between horizontal and vertical pixel differences: keeps shape edges sharp."""
    dx = lambda t: t[..., :, 1:] - t[..., :, :-1]  # noqa: E731
    dy = lambda t: t[..., 1:, :] - t[..., :-1, :]  # noqa: E731
    return (dx(x) - dx(y)).abs().mean() + (dy(x) - dy(y)).abs().mean()


def train_vae(vae, images: np.ndarray, s: TrainSettings, seconds: float, log) -> list[float]:
    gen = torch.Generator().manual_seed(s.seed + 10)
    opt = torch.optim.AdamW(vae.parameters(), lr=s.vae_lr, weight_decay=0.0)
    sched = Schedule(s.vae_lr, warmup=min(100, s.warmup_steps), max_steps=s.vae_steps, seconds=seconds)
    losses, step = [], 0
    bar = tqdm(total=s.vae_steps, desc="vae", unit="step", dynamic_ncols=True)
    adapt_threads = ThreadAdapter(s.threads)
    vae.train()
    while not sched.done(step):
        adapt_threads()
        idx = torch.randint(0, len(images), (s.vae_batch,), generator=gen)
        x = to_tensor(images[idx.numpy()])  # (b, 3, IMAGE_SIZE, IMAGE_SIZE)
        if s.vae_crop and sched.progress(step) < s.vae_crop_share:
            # The VAE is convolutional but for one attention block, so crops teach it colours and
            # edges at a quarter of the cost per image; the full-size end adapts it to whole images.
            oy, ox = torch.randint(0, x.shape[-1] - s.vae_crop + 1, (2,), generator=gen).tolist()
            x = x[..., oy : oy + s.vae_crop, ox : ox + s.vae_crop]
        posterior = vae.encode(x).latent_dist
        z = posterior.mean + posterior.std * torch.randn(posterior.mean.shape, generator=gen)
        y = vae.decode(z).sample
        kl = posterior.kl().mean() / z[0].numel()
        loss = (y - x).abs().mean() + F.mse_loss(y, x) + edge_loss(y, x) + s.kl_weight * kl
        for g in opt.param_groups:
            g["lr"] = sched.lr(step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        step += 1
        log("vae", step, loss.item(), sched.lr(step))
        bar.update(1)
        bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
    bar.close()
    vae.eval()
    return losses


@torch.no_grad()
def encode_all(vae, images: np.ndarray, batch: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior mean and std of every image, (n, c, h, w) each, unscaled."""
    means, stds = [], []
    for i in range(0, len(images), batch):
        posterior = vae.encode(to_tensor(images[i : i + batch])).latent_dist
        means.append(posterior.mean)
        stds.append(posterior.std)
    return torch.cat(means), torch.cat(stds)


def train_unet(unet, text_encoder, tokenizer, latents_mean, latents_std, scale: float, scenes, s: TrainSettings,
               seconds: float, log, judging: Judging | None = None) -> tuple[list[float], EMA]:
    """The UNet phase; ``judging`` (if given) judges the EMA weights whenever it is due and at the end."""
    gen = torch.Generator().manual_seed(s.seed + 20)
    rng = np.random.default_rng(s.seed + 21)
    noise_scheduler = build_train_scheduler(s.schedule)
    alphas_cumprod = noise_scheduler.alphas_cumprod
    snr_all = alphas_cumprod / (1 - alphas_cumprod)
    modules = [unet, text_encoder]
    params = [p for m in modules for p in m.parameters()]
    opt = torch.optim.AdamW(params, lr=s.unet_lr, weight_decay=1e-2)
    ema = EMA(modules, s.ema_decay)
    sched = Schedule(s.unet_lr, warmup=s.warmup_steps, max_steps=s.unet_steps, seconds=seconds)
    losses, step = [], 0
    bar = tqdm(total=s.unet_steps, desc="unet", unit="step", dynamic_ncols=True)
    adapt_threads = ThreadAdapter(s.threads)
    unet.train()
    text_encoder.train()
    while not sched.done(step):
        adapt_threads()
        idx = torch.randint(0, len(scenes), (s.unet_batch,), generator=gen)
        z0 = latents_mean[idx] + latents_std[idx] * torch.randn(latents_mean[idx].shape, generator=gen)
        z0 = z0 * scale  # (b, 4, 16, 16), unit variance
        prompts = [
            "" if rng.random() < s.caption_dropout else data.random_caption(scenes[i], rng) for i in idx.tolist()
        ]
        ids = tokenizer(prompts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                        return_tensors="pt").input_ids  # (b, 20)
        noise = training_noise(z0.shape, s.offset_noise, gen)
        t = training_timesteps(s.unet_batch, noise_scheduler.config.num_train_timesteps, s.mid_share, gen)
        zt = noise_scheduler.add_noise(z0, noise, t)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=s.precision == "bf16"):
            context = text_encoder(ids)[0]  # (b, 20, width)
            pred = unet(zt, t, context).sample.float()
        loss, per_sample = diffusion_loss(noise_scheduler, pred, z0, noise, t, snr_all[t], s.snr_gamma,
                                          s.terminal_weight)
        optimiser_step(opt, params, loss, sched.lr(step), ema)
        plain = per_sample.mean().item()
        losses.append(plain)
        step += 1
        log("unet", step, plain, sched.lr(step))
        bar.update(1)
        bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}")
        if judging is not None and step % judging.every == 0:
            judge_ema(judging, step, ema, unet, text_encoder)
    bar.close()
    if judging is not None and judging.last_step != step:  # the weights the run ends with
        judge_ema(judging, step, ema, unet, text_encoder)
    return losses, ema


def diffusion_loss(noise_scheduler, pred: torch.Tensor, z0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor,
                   snr: torch.Tensor, gamma: float, floor: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The training loss of a prediction (b, c, h, w) in the scheduler's parameterisation, min-SNR
    weighted (eps_loss_weight, v_loss_weight; snr (b,) at timesteps t), and each sample's plain MSE (b,)."""
    if noise_scheduler.config.prediction_type == "epsilon":
        target, weight = noise, eps_loss_weight(snr, gamma)
    else:
        target = noise_scheduler.get_velocity(z0, noise, t)  # v = sqrt(a) eps - sqrt(1-a) x0
        weight = v_loss_weight(snr, gamma, floor)
    per_sample = F.mse_loss(pred, target, reduction="none").mean(dim=(1, 2, 3))
    return (weight * per_sample).mean(), per_sample


def optimiser_step(opt, params: list[torch.Tensor], loss: torch.Tensor, lr: float, ema: EMA) -> None:
    """One AdamW step at `lr` with the gradient norm clipped to 1, then the EMA's update."""
    for g in opt.param_groups:
        g["lr"] = lr
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    ema.update()


def judge_ema(judging: Judging, step: int, ema: EMA, unet, text_encoder) -> None:
    with ema.applied([unet, text_encoder]):
        j = judging.run(step, unet, text_encoder, ema.shadow)
    shapes = " / ".join(f"{v:.0%}" for v in j.shape.values())
    tqdm.write(f"unet step {step}: stills right {j.all:.0%} (shape {shapes}; colour {j.colour:.0%},"
               f" background {j.background:.0%}) in {j.seconds:.0f} s")


def training_timesteps(batch: int, num_train: int, mid_share: float, gen: torch.Generator) -> torch.Tensor:
    """Training timesteps, (batch,) int64 in [0, num_train): uniform, as DDPM trains (Ho et al.
    2020, algorithm 1), except that a `mid_share` of them is drawn uniformly from MID_TIMESTEPS.

    Drawing more timesteps from a band weighs its loss up without touching the per-timestep weights
    (Esser et al. 2024, "Scaling Rectified Flow Transformers", 3.1, sample the middle of the schedule
    more for the same reason: the ends are the easy steps). At 0 it draws as before: earlier recipes
    re-make bit for bit."""
    t = torch.randint(0, num_train, (batch,), generator=gen)
    if mid_share > 0:
        low, high = MID_TIMESTEPS
        mid = torch.rand(batch, generator=gen) < mid_share
        t = torch.where(mid, torch.randint(low, high, (batch,), generator=gen), t)
    return t


def training_noise(shape: torch.Size, offset: float, gen: torch.Generator) -> torch.Tensor:
    """Gaussian noise of `shape` (b, c, h, w), plus offset noise when `offset` > 0: a constant per
    image and channel drawn with std `offset` (Guttenberg 2023, "Diffusion with Offset Noise").

    On SD's schedule the noised latent at t=999 keeps sqrt(alphas_cumprod) = 0.068 of the image,
    so its mean per channel tells the network the background's colour; sampling starts from noise
    whose mean is random (std 1/16 on 16x16 latents), and the committed model takes the background
    from that. Offset noise makes the mean carry noise in training too, so the caption must give
    the background. At 0 it draws nothing more: earlier recipes re-make bit for bit."""
    noise = torch.randn(shape, generator=gen)
    if offset > 0:
        noise = noise + offset * torch.randn((shape[0], shape[1], 1, 1), generator=gen)
    return noise


def eps_loss_weight(snr: torch.Tensor, gamma: float) -> torch.Tensor:
    """Min-SNR weighting of a noise-prediction loss (Hang et al. 2023, "Efficient Diffusion Training
    via Min-SNR Weighting Strategy", eq. 6): min(SNR, gamma) / SNR, which is min(SNR, gamma) in x0
    terms (the epsilon-loss is SNR times the x0-loss). snr: (b,), > 0; returns (b,)."""
    return torch.clamp(snr, max=gamma) / snr


def v_loss_weight(snr: torch.Tensor, gamma: float, floor: float) -> torch.Tensor:
    """Weight of a v-prediction loss: min-SNR (Hang et al. 2023) plus a floor, in x0 terms.

    The v-loss equals the x0-loss times SNR + 1 (Salimans & Ho 2022, eq. 4), so this weighs the
    x0-loss by min(SNR, gamma) + floor. min(SNR, gamma) alone is the committed epsilon recipe's
    weighting; it gives t=999 (SNR 0 on a zero-terminal-SNR schedule) no weight, and that is the
    step that must take the background from the caption. Clamping SNR + 1 instead (the second
    trial, RESULTS.md) gave the nearly pure-noise timesteps a third of the loss, up from 2%, and
    the UNet learned colours and backgrounds but drew every shape as a blob; a floor of 0.1 kept
    about 10% there and brought shape to 42%, and the default floor of 0.02 (the fifth trial) kept
    the background at 100% with shape at 69%, above the noise-prediction recipe's 64%. snr: (b,);
    returns (b,).
    """
    return (torch.clamp(snr, max=gamma) + floor) / (snr + 1)


def portable_tokenizer_class(folder: Path) -> None:
    """Name the tokenizer class ``PreTrainedTokenizerFast``, which every transformers version has.

    transformers 5 saves its fast tokenizers as ``TokenizersBackend``, a name 4.x lacks; the
    class is the same (``PreTrainedTokenizerFast`` is its alias in 5.x).
    """
    index_path = folder / "model_index.json"
    index = json.loads(index_path.read_text())
    index["tokenizer"] = ["transformers", "PreTrainedTokenizerFast"]
    index_path.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    config_path = folder / "tokenizer" / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config_path.write_text(json.dumps(config, indent=2) + "\n")


def write_training_record(folder: Path, info: dict, rows: list[tuple]) -> None:
    """training_info.json (`info`) and training_log.csv (one row a step: phase, step, loss, lr,
    elapsed_s, threads) in a model folder being written."""
    (folder / "training_info.json").write_text(json.dumps(info, indent=2) + "\n")
    with open(folder / "training_log.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["phase", "step", "loss", "lr", "elapsed_s", "threads"])
        writer.writerows(rows)


def make_readable(folder: Path) -> None:
    """Folders 0755 and files 0644 below `folder`: safetensors writes its files 0600, and an
    installed app is read by other users."""
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def write_folder_atomically(out: Path, write) -> None:
    """Call ``write(tmp)`` on a fresh temporary folder beside ``out``, then swap it in."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        write(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def train(s: TrainSettings) -> TrainResult:
    from diffusers import StableDiffusionPipeline

    torch.manual_seed(s.seed)
    torch.set_num_threads(s.threads)
    started = time.monotonic()
    cfg = TINY if s.tiny else s.config
    budget = s.minutes * 60.0

    images, scenes = data.make_dataset(s.num_images, s.seed, s.placement, s.upright_share, s.shape_weights)
    tokenizer = build_tokenizer()
    vae = build_vae(cfg)
    unet = build_unet(cfg)
    text_encoder = build_text_encoder(cfg, tokenizer)

    rows: list[tuple] = []

    def log(phase: str, step: int, loss: float, lr: float) -> None:
        rows.append((phase, step, f"{loss:.6f}", f"{lr:.3e}", f"{time.monotonic() - started:.1f}",
                     torch.get_num_threads()))

    vae_losses = train_vae(vae, images, s, budget * s.vae_share, log)

    means, stds = encode_all(vae, images)
    sampled = means + stds * torch.randn(means.shape, generator=torch.Generator().manual_seed(s.seed + 30))
    scale = float(1.0 / sampled.std())
    vae.register_to_config(scaling_factor=scale)

    # The UNet phase gets what is left, less a minute for measuring the mask layers and saving.
    unet_seconds = max(1.0, budget - (time.monotonic() - started) - 60.0)
    judging = None
    if s.judge_every:
        judge = StillJudge(vae, tokenizer, s.schedule, s.judge_per_shape, DEFAULTS["scheduler"], DEFAULTS["steps"],
                           DEFAULTS["guidance"])
        judging = Judging(judge, s.judge_every)
    unet_losses, ema = train_unet(unet, text_encoder, tokenizer, means, stds, scale, scenes, s, unet_seconds, log,
                                  judging)
    ema.copy_to([unet, text_encoder], judging.best_weights if judging else None)
    seconds = time.monotonic() - started

    pipe = StableDiffusionPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=build_sample_scheduler(s.schedule),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    info = {
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(s).items() if k != "config"},
        "config": asdict(cfg),
        "seconds": round(seconds, 1),
        "vae_steps": len(vae_losses),
        "unet_steps": len(unet_losses),
        "vae_loss_first_last": first_last_means(vae_losses, LOSS_MEAN_STEPS["vae"]),
        "unet_loss_first_last": first_last_means(unet_losses, LOSS_MEAN_STEPS["unet"]),
        "scaling_factor": scale,
        "parameters": {
            "unet": count_parameters(unet), "vae": count_parameters(vae), "text_encoder": count_parameters(text_encoder),
        },
        "threads": s.threads,
        "openmp_wait_policy": OPENMP_WAIT_POLICY,
        "torch": torch.__version__,
    }
    if judging:
        info["judging"] = judging.summary()
    settings = dict(DEFAULTS)
    if not s.tiny:  # the tiny model draws no objects to measure
        from .mask_layers import choose, layer_scores

        pipe.set_progress_bar_config(disable=True)
        scores = layer_scores(pipe)
        info["subject_layer_scores"] = scores
        settings["subject_layers"] = choose(scores)

    def write(folder: Path) -> None:
        pipe.save_pretrained(folder, safe_serialization=True)
        portable_tokenizer_class(folder)
        (folder / "t2vz.json").write_text(json.dumps(settings, indent=2) + "\n")
        write_training_record(folder, info, rows)
        write_model_card(folder)
        make_readable(folder)

    write_folder_atomically(s.out, write)
    return TrainResult(folder=s.out.resolve(), vae_losses=vae_losses, unet_losses=unet_losses, seconds=seconds)


# controlnet-canny (train_controlnet.py) fits only the UNet it was trained beside, so a new model
# replaces it with the rest; train it again after.
MODEL_FOLDER_PARTS = {"model_index.json", "t2vz.json", "README.md", "evaluation.json", "training_info.json",
                      "training_log.csv", "scheduler", "text_encoder", "tokenizer", "unet", "vae", "controlnet-canny"}


def out_problem(out: Path, parts: set[str] = MODEL_FOLDER_PARTS, what: str = "model") -> str | None:
    """Why training cannot write `out`, said before any work, or None. Training swaps the whole
    folder for the new `what` (model, ControlNet), so an existing one may hold only its `parts`."""
    if out.exists():
        if not out.is_dir():
            return "is a file, not a folder"
        others = sorted(p.name for p in out.iterdir() if p.name not in parts)
        if others:
            return (f"holds {', '.join(others[:3])}{' ...' if len(others) > 3 else ''}, which is not part of a {what}:"
                    f" training replaces the whole folder, so give a new folder or a {what} folder alone")
    parent = out.resolve().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        return f"cannot be written ({parent} is not a folder this user may write in)"
    return None


def shape_weights(text: str) -> dict[str, float]:
    """``--shape-weights``: "square=1.4,circle=0.6" -> {"square": 1.4, "circle": 0.6}; ValueError
    (argparse's one line) for a malformed pair, an unknown shape or a weight that is not > 0."""
    weights: dict[str, float] = {}
    for pair in text.split(","):
        name, sep, value = (part.strip() for part in pair.partition("="))
        try:
            if not sep or name in weights:
                raise ValueError
            weights[name] = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{pair.strip()!r} is not SHAPE=WEIGHT (once per shape)") from None
    try:
        data.shape_counts(1, weights)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return weights


def build_parser() -> OneLineParser:
    """The trainer's command line; every flag but --out and --tiny is a TrainSettings field that
    the card's re-make command (card.remake_command) must give back."""
    p = OneLineParser(prog="python -m t2vz_desktop.demo_model.train", description=__doc__.split("\n\n")[0])
    count, share = number(int, 1), number(float, 0.0, 1.0)
    p.add_argument("--out", type=Path, default=demo_model_dir(),
                   help="model folder to (re)write (default: the built-in demo model, which --model demo loads)")
    p.add_argument("--minutes", type=number(float, 0.0, above=True), default=TrainSettings.minutes,
                   help="total training budget in minutes")
    p.add_argument("--vae-share", type=share, default=TrainSettings.vae_share, help="fraction of the budget for the VAE")
    p.add_argument("--seed", type=number(int, 0, 2**32 - 1), default=TrainSettings.seed)
    p.add_argument("--threads", type=count, default=TrainSettings.threads, help="torch CPU threads")
    p.add_argument("--num-images", type=count, default=TrainSettings.num_images, help="training images (6480 combinations)")
    p.add_argument("--placement", choices=data.PLACEMENTS, default=TrainSettings.placement,
                   help="where objects sit: anywhere, any size in range, turned (the committed model), or fixed spots")
    p.add_argument("--unet-lr", type=number(float, 0.0, above=True), default=TrainSettings.unet_lr)
    p.add_argument("--schedule", choices=list(SCHEDULES), default=TrainSettings.schedule,
                   help="SD's betas with noise prediction, or zero terminal SNR with v-prediction")
    p.add_argument("--upright-share", type=share, default=TrainSettings.upright_share,
                   help="continuous placement: fraction of squares, triangles and stars drawn upright")
    p.add_argument("--terminal-weight", type=number(float, 0.0), default=TrainSettings.terminal_weight,
                   help="zero-snr only: x0-loss weight floor so the pure-noise timesteps learn the background")
    p.add_argument("--snr-gamma", type=number(float, 0.0, above=True), default=TrainSettings.snr_gamma,
                   help="min-SNR gamma: the x0-loss weight is min(SNR, gamma), so a larger gamma weighs the"
                        " low-noise timesteps (fine detail: corners) more")
    p.add_argument("--mid-share", type=share, default=TrainSettings.mid_share,
                   help=f"share of the timesteps drawn from t in [{MID_TIMESTEPS[0]}, {MID_TIMESTEPS[1]}) (where polygons"
                        " lose their corners) instead of all")
    p.add_argument("--offset-noise", type=share, default=TrainSettings.offset_noise,
                   help="std of a per-channel constant added to the training noise (0: none)")
    p.add_argument("--shape-weights", type=shape_weights, default=None, metavar="SHAPE=W,...",
                   help="each shape's weight in the data, e.g. square=1.4,circle=0.6 (shapes not named weigh 1;"
                        " default: a quarter each)")
    p.add_argument("--judge-every", type=number(int, 0), default=None,
                   help=f"every this many UNet steps, and at the end, sample stills from the EMA weights and read them"
                        f" back; the weights that drew most right are saved (0: never judge, save the last; default"
                        f" {TrainSettings.judge_every}, 0 with --tiny)")
    p.add_argument("--judge-per-shape", type=number(int, 1, MAX_PER_SHAPE), default=TrainSettings.judge_per_shape,
                   help=f"stills of each of the 4 shapes per judgement, 1 to {MAX_PER_SHAPE} (default"
                        f" {TrainSettings.judge_per_shape}; used only when judging)")
    p.add_argument("--unet-batch", type=count, default=None,
                   help=f"images per UNet step (default {TrainSettings.unet_batch}, {TINY_UNET_BATCH} with --tiny)")
    p.add_argument("--precision", choices=PRECISIONS, default=TrainSettings.precision,
                   help="the UNet phase's forward pass: fp32, or bf16 autocast (fp32 weights; on CPUs with AVX512-BF16"
                        " or AMX a shorter step, 0.66 against 0.88 s in 150 steps on a 2-core EPYC, not yet in a"
                        " full trial; slower on others)")
    p.add_argument("--vae-steps", type=count, default=None, help="fixed VAE steps instead of the time budget")
    p.add_argument("--unet-steps", type=count, default=None, help="fixed UNet steps instead of the time budget")
    p.add_argument("--tiny", action="store_true", help="tiny configuration and a few steps (for tests)")
    return p


def parse_args(argv: list[str] | None = None) -> TrainSettings:
    """Settings from the command line; a bad value, or an --out that is neither new nor a model
    folder (training replaces the folder it writes), exits 2 with one line before any work."""
    p = build_parser()
    a = p.parse_args(argv)
    problem = out_problem(a.out)
    if problem:
        p.error(f"--out {a.out}: {problem}")
    s = TrainSettings(
        out=a.out, minutes=a.minutes, vae_share=a.vae_share, seed=a.seed, threads=a.threads, num_images=a.num_images,
        unet_lr=a.unet_lr, unet_batch=a.unet_batch or default_unet_batch(a.tiny), vae_steps=a.vae_steps,
        unet_steps=a.unet_steps, tiny=a.tiny,
        placement=a.placement, schedule=a.schedule, upright_share=a.upright_share, terminal_weight=a.terminal_weight,
        offset_noise=a.offset_noise, snr_gamma=a.snr_gamma, mid_share=a.mid_share, shape_weights=a.shape_weights,
        judge_every=(0 if a.tiny else TrainSettings.judge_every) if a.judge_every is None else a.judge_every,
        judge_per_shape=a.judge_per_shape, precision=a.precision,
    )
    if a.tiny:
        s.num_images = min(s.num_images, TINY_NUM_IMAGES)
        s.vae_batch, s.warmup_steps = TINY_VAE_BATCH, TINY_WARMUP_STEPS
        s.vae_steps = a.vae_steps or TINY_STEPS
        s.unet_steps = a.unet_steps or TINY_STEPS
    if s.threads > 1 and OPENMP_WAIT_POLICY == "passive" and os.environ.get(PASSIVE_SET_HERE):
        print("warning: OpenMP's threads wait passively in this process (t2vz_desktop chose it, not you), which made"
              f" training steps about 25% longer; start training with python -m {TRAINER_MODULE}, or set"
              " OMP_WAIT_POLICY before Python starts", file=sys.stderr)
    if s.precision == "bf16" and cpu_lacks_bf16():
        print("warning: this CPU has no bf16 instructions (avx512_bf16 or amx_bf16 in /proc/cpuinfo): --precision"
              " bf16 will run slower than fp32" + ("" if s.unet_steps else ", and the --minutes budget will then buy"
                                                  " fewer steps"), file=sys.stderr)
    return s


def main(argv: list[str] | None = None) -> TrainResult:
    s = parse_args(argv)
    result = train(s)
    print(f"wrote {result.folder} in {result.seconds / 60:.1f} min "
          f"(VAE {len(result.vae_losses)} steps, UNet {len(result.unet_losses)} steps)")
    return result


if __name__ == "__main__":
    main()
