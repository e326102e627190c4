"""How to lay out the engine's cross-frame self-attention for the fastest SDPA kernel.

Every frame's queries attend to one anchor frame's keys and values. Three layouts give the
same result: (long) the frames' queries end to end as one sequence against the anchor's keys,
one batch row per anchor, one call: what the engine does; (copied) one row per frame with the
anchor's keys copied to each row, one call: what diffusers' processor does; (expanded) one call
per anchor, its keys repeated by a stride-0 view. This times them with each SDPA backend at
Stable Diffusion 1.5's four self-attention sizes (8 heads, 512x512 output); on an H100 they
were within 0.1 ms of each other (benchmarks/RESULTS.md), so the engine keeps the layout that
copies nothing.

    python benchmarks/attention_layout.py            # CUDA, fp16
    python benchmarks/attention_layout.py --tiny     # CPU, small sizes (how the script is tested)
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F


def layouts(q, k, v, frames: int):
    """q: (groups * frames, heads, tokens, d); k, v: (groups, heads, tokens, d) -> outputs."""
    n, heads, tokens, d = k.shape

    def long():
        qq = q.reshape(n, frames, heads, tokens, d).transpose(1, 2).reshape(n, heads, frames * tokens, d)
        o = F.scaled_dot_product_attention(qq, k, v)
        return o.reshape(n, heads, frames, tokens, d).transpose(1, 2).reshape(n * frames, heads, tokens, d)

    def copied():
        kk = k.repeat_interleave(frames, dim=0)
        vv = v.repeat_interleave(frames, dim=0)
        return F.scaled_dot_product_attention(q, kk, vv)

    def expanded():  # one call per anchor, its keys repeated by a stride-0 view (no copy)
        return torch.cat([F.scaled_dot_product_attention(q[i * frames : (i + 1) * frames],
                                                         k[i : i + 1].expand(frames, -1, -1, -1),
                                                         v[i : i + 1].expand(frames, -1, -1, -1)) for i in range(n)])

    return {"long": long, "copied": copied, "expanded": expanded}


def median_ms(fn, device, repeats: int) -> float:
    times = []
    for i in range(repeats + 3):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= 3:
            times.append(time.perf_counter() - t)
    return 1e3 * sorted(times)[len(times) // 2]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tiny", action="store_true")
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--repeats", type=int, default=20)
    a = p.parse_args()
    device = torch.device("cpu" if a.tiny or not torch.cuda.is_available() else "cuda")
    dtype = torch.float32 if device.type == "cpu" else torch.float16
    # (tokens, inner) of SD 1.5's self-attention at 512x512: 64x64, 32x32, 16x16 and 8x8 latents.
    sizes = [(256, 32), (64, 64)] if a.tiny else [(4096, 320), (1024, 640), (256, 1280), (64, 1280)]
    heads, groups = (2, 2) if a.tiny else (8, 2)
    from torch.nn.attention import SDPBackend, sdpa_kernel

    backends = {"default": None, "flash": SDPBackend.FLASH_ATTENTION, "efficient": SDPBackend.EFFICIENT_ATTENTION,
                "cudnn": SDPBackend.CUDNN_ATTENTION, "math": SDPBackend.MATH}
    if device.type == "cpu":
        backends = {"default": None}
    print(f"# attention_layout: {device} {str(dtype).replace('torch.', '')}, {groups} anchors x {a.frames} frames, "
          f"{heads} heads; median ms of {a.repeats}")
    print("| tokens | inner | backend | long | copied | expanded |")
    print("|---|---|---|---|---|---|")
    g = torch.Generator(device).manual_seed(0)
    for tokens, inner in sizes:
        d = inner // heads
        q = torch.randn(groups * a.frames, heads, tokens, d, generator=g, device=device, dtype=dtype)
        k = torch.randn(groups, heads, tokens, d, generator=g, device=device, dtype=dtype)
        v = torch.randn(groups, heads, tokens, d, generator=g, device=device, dtype=dtype)
        fns = layouts(q, k, v, a.frames)
        ref = fns["copied"]()
        for name, backend in backends.items():
            cells = []
            for layout, fn in fns.items():
                try:
                    if backend is None:
                        out = fn()
                        ms = median_ms(fn, device, a.repeats)
                    else:
                        with sdpa_kernel([backend]):
                            out = fn()
                            ms = median_ms(fn, device, a.repeats)
                    err = (out.float() - ref.float()).abs().max().item()
                    cells.append(f"{ms:.3f}" + ("" if err < 1e-2 else f" (differs {err:.2g})"))
                except RuntimeError as e:
                    cells.append("n/a: " + str(e).strip().splitlines()[0][:40])
            print(f"| {tokens} | {inner} | {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
