"""Seconds per UNet training step of the built-in demo model (train.py's phase 2: the UNet and the
text encoder at batch 48, AdamW): fp32 contiguous, fp32 channels-last, and bf16 autocast
(train.py --precision bf16).

    python benchmarks/demo_train_step.py                     # 2 threads, 2 rounds, 20 timed steps each
    python benchmarks/demo_train_step.py --threads 1 --steps 10 --modes fp32 bf16

In a 2-hour budget the polygons are limited by the UNet step count (benchmarks/RESULTS.md, ninth
trial), so a mode is worth keeping only where this prints a shorter step. Run it on quiet cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from t2vz_desktop.demo_model.model import DemoConfig, build_text_encoder, build_unet  # noqa: E402
from t2vz_desktop.demo_model.tokenizer import build_tokenizer  # noqa: E402


MODES = ("fp32", "channels-last", "bf16")


def seconds_per_step(mode: str, steps: int, batch: int) -> float:
    """Median seconds of `steps` timed training steps in `mode` (MODES), after 5 untimed ones."""
    channels_last = mode == "channels-last"
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
    for _ in range(steps + 5):
        z = torch.randn(batch, 4, size, size)
        if channels_last:
            z = z.contiguous(memory_format=torch.channels_last)
        t = torch.randint(0, 1000, (batch,))
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=mode == "bf16"):
            pred = unet(z, t, text_encoder(ids)[0]).sample.float()
        loss = F.mse_loss(pred, torch.randn_like(pred))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - start)
    timed = sorted(times[5:])
    return timed[len(timed) // 2]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--batch", type=int, default=48)
    p.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    for r in range(a.rounds):
        for mode in a.modes:
            s = seconds_per_step(mode, a.steps, a.batch)
            print(f"round {r + 1}: {mode:13s} {s:.3f} s a step", flush=True)


if __name__ == "__main__":
    main()
