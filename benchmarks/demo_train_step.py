"""Seconds per UNet training step of the built-in demo model, measured in train.py's own loop
(`train_unet`: captions, tokenising, noising, the UNet and text encoder at batch 48 unless --batch says, AdamW,
gradient clipping, EMA) in each `--precision`, and the bare forward-backward-AdamW step with the
UNet's tensors contiguous (fp32), channels-last (fp32) and under bf16 autocast.

    python benchmarks/demo_train_step.py                     # 2 threads, 2 rounds, 20 timed steps each
    python benchmarks/demo_train_step.py --threads 1 --steps 10 --modes loop-fp32 loop-bf16

In a 2-hour budget the polygons are limited by the UNet step count (benchmarks/RESULTS.md, ninth
trial), so a mode is worth keeping only where this prints a shorter step, in the loop as well as
bare. Run it on quiet cores. torch is imported before t2vz_desktop here, so OpenMP keeps its own
wait policy, as train.py's command line does (t2vz_desktop/__init__.py; passive waits made the
step about 25% longer: RESULTS.md, "Why train.py's steps were slow").
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from t2vz_desktop.arguments import OneLineParser, number  # noqa: E402
from t2vz_desktop.demo_model import data  # noqa: E402
from t2vz_desktop.demo_model.model import DemoConfig, build_text_encoder, build_unet  # noqa: E402
from t2vz_desktop.demo_model.settings import TrainSettings  # noqa: E402
from t2vz_desktop.demo_model.tokenizer import build_tokenizer  # noqa: E402
from t2vz_desktop.demo_model.train import train_unet  # noqa: E402

WARM_UP = 5
MODES = ("loop-fp32", "loop-bf16", "bare-fp32", "bare-channels-last", "bare-bf16")


def median(times: list[float]) -> float:
    timed = sorted(times[WARM_UP:])
    return timed[len(timed) // 2]


def loop_step(precision: str, steps: int, batch: int) -> float:
    """Median seconds between train_unet's logged steps, after WARM_UP untimed ones."""
    torch.manual_seed(0)
    cfg, tokenizer = DemoConfig(), build_tokenizer()
    s = TrainSettings(out=Path("unused"), unet_steps=steps + WARM_UP, unet_batch=batch, precision=precision,
                      judge_every=0, threads=torch.get_num_threads())
    size = cfg.latent_size
    # The latents' values do not change the step's cost: a trained VAE's latents and the step's
    # activations, gradients and AdamW state hold no subnormal floats (RESULTS.md, tenth trial).
    means = torch.randn(1024, cfg.latent_channels, size, size)
    stamps = [time.perf_counter()]
    train_unet(build_unet(cfg), build_text_encoder(cfg, tokenizer), tokenizer, means, torch.full_like(means, 0.1), 1.0,
               data.sample_scenes(1024, 0), s, seconds=3600.0, log=lambda *row: stamps.append(time.perf_counter()))
    return median([b - a for a, b in zip(stamps, stamps[1:])])


def bare_step(mode: str, steps: int, batch: int) -> float:
    """Median seconds of the forward, backward and AdamW step alone, after WARM_UP untimed ones."""
    channels_last = mode == "bare-channels-last"
    torch.manual_seed(0)
    cfg, tokenizer = DemoConfig(), build_tokenizer()
    unet, text_encoder = build_unet(cfg), build_text_encoder(cfg, tokenizer)
    if channels_last:
        unet = unet.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW([*unet.parameters(), *text_encoder.parameters()], lr=1e-4)
    ids = tokenizer(["a red circle on a blue background"] * batch, padding="max_length",
                    max_length=tokenizer.model_max_length, return_tensors="pt").input_ids
    size = cfg.latent_size
    times = []
    for _ in range(steps + WARM_UP):
        z = torch.randn(batch, cfg.latent_channels, size, size)
        if channels_last:
            z = z.contiguous(memory_format=torch.channels_last)
        t = torch.randint(0, 1000, (batch,))
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=mode == "bare-bf16"):
            pred = unet(z, t, text_encoder(ids)[0]).sample.float()
        loss = F.mse_loss(pred, torch.randn_like(pred))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - start)
    return median(times)


def main(argv: list[str] | None = None) -> None:
    p = OneLineParser(prog="benchmarks/demo_train_step.py", description=__doc__.split("\n\n")[0])
    count = number(int, 1)
    p.add_argument("--threads", type=count, default=2)
    p.add_argument("--steps", type=count, default=20, help="timed steps, after 5 untimed")
    p.add_argument("--rounds", type=count, default=2)
    p.add_argument("--batch", type=count, default=48)
    p.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    for r in range(a.rounds):
        for mode in a.modes:
            if mode.startswith("loop-"):
                s = loop_step(mode.removeprefix("loop-"), a.steps, a.batch)
            else:
                s = bare_step(mode, a.steps, a.batch)
            print(f"round {r + 1}: {mode:18s} {s:.3f} s a step", flush=True)


if __name__ == "__main__":
    main()
