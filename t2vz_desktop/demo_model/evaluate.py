"""Measure how well the demo model follows its prompts.

    python -m t2vz_desktop.demo_model.evaluate resources/models/demo [--seeds 3] [--sweep 3,5,7.5]

Samples each evaluation prompt with several seeds (DDIM, the model's recommended steps and
guidance from ``t2vz.json``), then reads every image back with plain OpenCV:

- background colour: median of the outer two-pixel ring, named by the nearest palette RGB;
- object: the largest connected region that differs from the background; its colour is the
  median of its inner pixels, named by the nearest palette RGB;
- shape: :func:`classify_shape`, from the region's contour (approxPolyDP vertex count,
  solidity, circularity, extent);
- position: which third of the image the region's centroid falls in, per axis.

Prints a table, writes ``evaluation.json`` into the model folder and regenerates its card.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from . import data
from .card import write_model_card

PALETTE_NAMES = list(data.COLOURS)
PALETTE = np.array([data.COLOURS[n] for n in PALETTE_NAMES], np.float32)  # (10, 3)


@dataclass
class Reading:
    """What an image shows, as read back by :func:`analyse`."""

    background: str
    colour: str | None
    shape: str | None
    position: str | None


def nearest_colour(rgb: np.ndarray) -> str:
    return PALETTE_NAMES[int(np.argmin(((PALETTE - np.asarray(rgb, np.float32)) ** 2).sum(1)))]


def classify_shape(mask: np.ndarray) -> str | None:
    """circle / square / triangle / star for a binary object mask (h, w), or None if empty."""
    big = cv2.resize(mask.astype(np.float32), None, fx=4, fy=4, interpolation=cv2.INTER_LINEAR) > 0.5
    contours, _ = cv2.findContours(big.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return None
    c = max(contours, key=cv2.contourArea)
    area = cv2.contourArea(c)
    perimeter = cv2.arcLength(c, True)
    if area < 16 or perimeter == 0:
        return None
    solidity = area / max(cv2.contourArea(cv2.convexHull(c)), 1e-6)
    circularity = 4 * np.pi * area / perimeter**2
    _, _, w, h = cv2.boundingRect(c)
    extent = area / (w * h)
    # A square turned 45 degrees fills only half of its upright box, as a triangle does; the
    # smallest turned rectangle tells them apart (triangle 0.5, circle 0.79, square 1).
    (_, _), (rw, rh), _ = cv2.minAreaRect(c)
    turned_extent = area / max(rw * rh, 1e-6)
    vertices = len(cv2.approxPolyDP(c, 0.04 * perimeter, True))
    if solidity < 0.8:
        return "star"
    if vertices == 3 or turned_extent < 0.62:
        return "triangle"
    if vertices == 4 and turned_extent > 0.85:
        return "square"
    if circularity > 0.85 or extent < 0.84:
        return "circle"
    return "square"


def position_of(cx: float, cy: float) -> str:
    low, high = (data.IMAGE_SIZE * t for t in data.THIRDS)
    col = "left" if cx < low else "right" if cx > high else ""
    row = "top" if cy < low else "bottom" if cy > high else ""
    return f"{row} {col}".strip() or "centre"


def background_rgb(image: np.ndarray) -> np.ndarray:
    """Median colour of the two-pixel outer ring, where the object rarely reaches.  # (3,)"""
    img = image.astype(np.float32)
    ring = np.concatenate([img[:2].reshape(-1, 3), img[-2:].reshape(-1, 3), img[:, :2].reshape(-1, 3),
                           img[:, -2:].reshape(-1, 3)])
    return np.median(ring, axis=0)


def object_region(image: np.ndarray) -> np.ndarray | None:
    """The object: the largest 8-connected region farther than 45 RGB levels from the background
    colour, as a 0/1 uint8 mask (h, w); None when there is none of at least 6 pixels."""
    distance = np.sqrt(((image.astype(np.float32) - background_rgb(image)) ** 2).sum(-1))
    count, labels, stats, _ = cv2.connectedComponentsWithStats((distance > 45).astype(np.uint8), connectivity=8)
    if count < 2:
        return None
    label = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return (labels == label).astype(np.uint8) if stats[label, cv2.CC_STAT_AREA] >= 6 else None


def centroid(region: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(region)
    return float(xs.mean()), float(ys.mean())


def analyse(image: np.ndarray) -> Reading:
    """Read background colour, object colour, shape and position from a (64, 64, 3) uint8 image."""
    background = nearest_colour(background_rgb(image))
    region = object_region(image)
    if region is None:
        return Reading(background, None, None, None)
    inner = cv2.erode(region, np.ones((3, 3), np.uint8))
    pixels = image[inner.astype(bool)] if inner.sum() >= 3 else image[region.astype(bool)]
    colour = nearest_colour(np.median(pixels.astype(np.float32), axis=0))
    return Reading(background, colour, classify_shape(region), position_of(*centroid(region)))


def evaluation_scenes() -> list[data.Scene]:
    """40 fully specified scenes: every colour with every shape, varied backgrounds/positions."""
    names = PALETTE_NAMES
    scenes = []
    for i, colour in enumerate(names):
        for k, shape in enumerate(data.SHAPES):
            background = names[(i + 1 + 3 * k) % len(names)]
            if background == colour:
                background = names[(i + 2 + 3 * k) % len(names)]
            size = data.SIZES[(i + k) % 2]
            position = data.POSITIONS[(i * 4 + k) % len(data.POSITIONS)]
            scenes.append(data.Scene(shape, colour, background, size, position))
    return scenes


def score(readings: list[Reading], scenes: list[data.Scene]) -> dict:
    """Overall and per-name accuracies of ``readings`` against the prompted ``scenes``."""
    def rate(hits: list[bool]) -> float:
        return float(np.mean(hits)) if hits else 0.0

    colour = [r.colour == s.colour for r, s in zip(readings, scenes)]
    background = [r.background == s.background for r, s in zip(readings, scenes)]
    shape = [r.shape == s.shape for r, s in zip(readings, scenes)]
    position = [r.position == s.position for r, s in zip(readings, scenes)]
    every = [a and b and c for a, b, c in zip(colour, background, shape)]
    per_name: dict[str, dict[str, float]] = {}
    for name in [*PALETTE_NAMES, *data.SHAPES]:
        row = {}
        if name in data.COLOURS:
            row["colour"] = rate([h for h, s in zip(colour, scenes) if s.colour == name])
            row["background"] = rate([h for h, s in zip(background, scenes) if s.background == name])
        else:
            row["shape"] = rate([h for h, s in zip(shape, scenes) if s.shape == name])
        per_name[name] = row
    overall = {"colour": rate(colour), "background": rate(background), "shape": rate(shape),
               "position": rate(position), "all": rate(every)}
    return {"overall": overall, "per_name": per_name}


def sample(pipe, scenes: list[data.Scene], seeds: int, steps: int, guidance: float, batch: int = 20):
    """Images (n * seeds, 64, 64, 3) uint8 and the matching scenes, seed-major."""
    import torch

    images, used = [], []
    jobs = [(scene, seed) for seed in range(seeds) for scene in scenes]
    for i in range(0, len(jobs), batch):
        chunk = jobs[i : i + batch]
        out = pipe(
            prompt=[scene.full_caption() for scene, _ in chunk],
            num_inference_steps=steps,
            guidance_scale=guidance,
            generator=[torch.Generator().manual_seed(1000 + seed) for _, seed in chunk],
            output_type="np",
        ).images
        images.append((np.clip(out, 0, 1) * 255).round().astype(np.uint8))
        used += [scene for scene, _ in chunk]
    return np.concatenate(images), used


def reconstruction_score(vae, scenes: list[data.Scene], seeds: int) -> dict:
    """Scores of the VAE's reconstructions of rendered scenes: the ceiling for the sampler."""
    import torch

    rng = np.random.default_rng(0)
    used = scenes * seeds
    images = np.stack([data.render(s, rng) for s in used])
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    with torch.no_grad():
        y = vae.decode(vae.encode(x).latent_dist.mode()).sample
    out = ((y.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return score([analyse(im) for im in out], used)


def print_table(result: dict, title: str) -> None:
    o = result["overall"]
    print(f"\n{title}")
    print(f"  colour {o['colour']:.0%}  background {o['background']:.0%}  shape {o['shape']:.0%}  "
          f"position {o['position']:.0%}  all three {o['all']:.0%}")
    print(f"  {'name':<10}{'colour':>8}{'backgr.':>9}{'shape':>8}")
    for name, row in result["per_name"].items():
        cells = [f"{row[k]:.0%}" if k in row else "" for k in ("colour", "background", "shape")]
        print(f"  {name:<10}{cells[0]:>8}{cells[1]:>9}{cells[2]:>8}")


def save_grid(images: np.ndarray, path: Path, columns: int = 10) -> None:
    rows = [np.concatenate(list(images[i : i + columns]), axis=1) for i in range(0, len(images), columns)]
    if len(rows) > 1 and rows[-1].shape != rows[0].shape:
        pad = np.zeros_like(rows[0])
        pad[:, : rows[-1].shape[1]] = rows[-1]
        rows[-1] = pad
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR))


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(prog="python -m t2vz_desktop.demo_model.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("model", type=Path, nargs="?", default=Path("resources/models/demo"))
    p.add_argument("--seeds", type=int, default=3, help="seeds per prompt")
    p.add_argument("--steps", type=int, default=None, help="DDIM steps (default: t2vz.json)")
    p.add_argument("--guidance", type=float, default=None, help="guidance scale (default: t2vz.json)")
    p.add_argument("--sweep", type=str, default="", help="also score these guidance scales, e.g. 3,5,7.5")
    p.add_argument("--grid", type=Path, default=None, help="save the sampled images as one PNG")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-write", action="store_true", help="do not write evaluation.json / the card")
    a = p.parse_args(argv)

    import torch
    from diffusers import StableDiffusionPipeline

    torch.set_num_threads(a.threads)
    defaults = json.loads((a.model / "t2vz.json").read_text())
    steps = a.steps or defaults["steps"]
    guidance = a.guidance if a.guidance is not None else defaults["guidance"]
    pipe = StableDiffusionPipeline.from_pretrained(a.model, safety_checker=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    scenes = evaluation_scenes()

    rng = np.random.default_rng(0)
    reference = score([analyse(data.render(s, rng)) for s in scenes * a.seeds], scenes * a.seeds)
    print_table(reference, "classifiers on the renderer's own images (should be ~100%)")

    reconstruction = reconstruction_score(pipe.vae, scenes, a.seeds)
    print_table(reconstruction, "VAE reconstructions of the renderer's images (the ceiling for samples)")

    started = time.monotonic()
    images, used = sample(pipe, scenes, a.seeds, steps, guidance)
    result = score([analyse(im) for im in images], used)
    print_table(result, f"model: {len(images)} samples, {steps} DDIM steps, guidance {guidance:g} "
                        f"({time.monotonic() - started:.0f} s)")
    if a.grid:
        save_grid(images, a.grid)

    sweep = {}
    for g in [float(x) for x in a.sweep.split(",") if x.strip()]:
        imgs, used_g = sample(pipe, scenes, a.seeds, steps, g)
        sweep[f"{g:g}"] = score([analyse(im) for im in imgs], used_g)["overall"]
        o = sweep[f"{g:g}"]
        print(f"guidance {g:g}: colour {o['colour']:.0%} background {o['background']:.0%} shape {o['shape']:.0%} "
              f"position {o['position']:.0%} all {o['all']:.0%}")

    evaluation = {
        "samples": len(images), "prompts": len(scenes), "seeds": a.seeds, "steps": steps, "guidance": guidance,
        "overall": result["overall"], "per_name": result["per_name"], "reference": reference["overall"],
        "vae_reconstruction": reconstruction["overall"],
        "guidance_sweep": sweep,
    }
    if not a.no_write:
        (a.model / "evaluation.json").write_text(json.dumps(evaluation, indent=2) + "\n")
        write_model_card(a.model)
    return evaluation


if __name__ == "__main__":
    main()
