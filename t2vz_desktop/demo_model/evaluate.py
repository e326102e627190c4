"""Measure how well the demo model follows its prompts, on videos made through the engine.

    python -m t2vz_desktop.demo_model.evaluate resources/models/demo [--seeds 3] [--sweep 3,5,7.5]

Makes one video per evaluation prompt and seed, "a COLOUR SHAPE on a COLOUR background" with an
asked motion, through the engine the app and the CLI use (the method's motion field,
cross-frame attention, the model's recommended steps, guidance and sampler from ``t2vz.json``), then
reads every frame back with plain OpenCV:

- background colour: median of the outer two-pixel ring, named by the nearest palette RGB;
- object: the largest connected region that differs from the background; its colour is the
  median of its inner pixels, named by the nearest palette RGB;
- shape: :func:`classify_shape`, from the region's contour (approxPolyDP vertex count,
  solidity, circularity, extent), on the frames where the object is wholly in view;
- motion: the least-squares velocity of the object's centroid over the frames before it first
  touches the border, against the asked px per frame.

A video's colour, background and shape scores are the fractions of its frames read right; the
figures are their means over the videos. Prints a table, writes ``evaluation.json`` into the
model folder and regenerates its card.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..arguments import OneLineParser, model_folder, number
from ..engine.models import demo_model_dir, read_defaults
from . import data
from .card import sampler_name, write_model_card

PALETTE_NAMES = list(data.COLOURS)
PALETTE = np.array([data.COLOURS[n] for n in PALETTE_NAMES], np.float32)  # (10, 3)
MIN_AREA = round(6 * data.SCALE**2)  # pixels: smaller regions are specks, not objects

# Asked motions (output px per frame, x right, y down), one per evaluation prompt in turn: the
# four directions and the diagonals at the engine's default speed (12 px at 512 px, scaled).
MOTIONS: tuple[tuple[float, float], ...] = ((3, 0), (-3, 0), (0, 3), (0, -3), (2, 2), (-2, 2), (2, -2), (-2, -2))
VIDEO_FRAMES = 8
MOTION_TOLERANCE = 2.0  # px per frame, per axis
MIN_TRACK = 4  # in-view frames needed to measure a velocity


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
    return (labels == label).astype(np.uint8) if stats[label, cv2.CC_STAT_AREA] >= MIN_AREA else None


def centroid(region: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(region)
    return float(xs.mean()), float(ys.mean())


def analyse(image: np.ndarray) -> Reading:
    """Read background colour, object colour, shape and position from a (h, w, 3) uint8 image."""
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


def video_prompt(scene: data.Scene) -> str:
    """"a COLOUR SHAPE on a COLOUR background": the form a new user types first."""
    return data.caption(scene, keep_size=False, keep_position=False, keep_background=True)


def touches_border(region: np.ndarray) -> bool:
    return bool(region[0].any() or region[-1].any() or region[:, 0].any() or region[:, -1].any())


def in_view(frames: list[np.ndarray]) -> list[tuple[int, tuple[float, float]]]:
    """(frame, centroid) for the frames before the object first touches the border or is lost:
    a clipped object's centroid is not the object's, and once it has left the model draws a new
    one elsewhere (the prompt still asks for it)."""
    points = []
    for k, frame in enumerate(frames):
        region = object_region(frame)
        if region is None or touches_border(region):
            break
        points.append((k, centroid(region)))
    return points


def velocity(points: list[tuple[int, tuple[float, float]]]) -> tuple[float, float]:
    """Least-squares centroid velocity (x, y) in px per frame."""
    k = np.array([p[0] for p in points], np.float64)
    xy = np.array([p[1] for p in points], np.float64)
    return float(np.polyfit(k, xy[:, 0], 1)[0]), float(np.polyfit(k, xy[:, 1], 1)[0])


@dataclass
class VideoScore:
    """How one video reads: fractions of frames right, and its measured motion."""

    scene: data.Scene
    motion: tuple[float, float]  # asked, px per frame
    colour: float
    background: float
    shape: float | None  # None: the object never wholly in view
    velocity: tuple[float, float] | None  # measured, px per frame; None: too few in-view frames

    @property
    def motion_ok(self) -> bool | None:
        if self.velocity is None:
            return None
        return all(abs(v - m) <= MOTION_TOLERANCE for v, m in zip(self.velocity, self.motion))


def score_video(frames: list[np.ndarray], scene: data.Scene, motion: tuple[float, float]) -> VideoScore:
    readings = [analyse(f) for f in frames]
    # Shape is read only where the whole object is in view; a frame with no object is a miss.
    whole = [r for r, f in zip(readings, frames)
             if (region := object_region(f)) is None or not touches_border(region)]
    track = in_view(frames)
    return VideoScore(
        scene=scene, motion=motion,
        colour=float(np.mean([r.colour == scene.colour for r in readings])),
        background=float(np.mean([r.background == scene.background for r in readings])),
        shape=float(np.mean([r.shape == scene.shape for r in whole])) if whole else None,
        velocity=velocity(track) if len(track) >= MIN_TRACK else None,
    )


def summarise(videos: list[VideoScore]) -> dict:
    """Overall and per-name accuracies (means of the videos' fractions), and the motion figures."""
    def mean(values) -> float:
        values = [v for v in values if v is not None]
        return float(np.mean(values)) if values else 0.0

    per_name: dict[str, dict[str, float]] = {}
    for name in [*PALETTE_NAMES, *data.SHAPES]:
        if name in data.COLOURS:
            per_name[name] = {"colour": mean(v.colour for v in videos if v.scene.colour == name),
                              "background": mean(v.background for v in videos if v.scene.background == name)}
        else:
            per_name[name] = {"shape": mean(v.shape if v.shape is not None else 0.0
                                            for v in videos if v.scene.shape == name)}
    measured = [v for v in videos if v.velocity is not None]
    errors = [max(abs(a - b) for a, b in zip(v.velocity, v.motion)) for v in measured]
    overall = {
        "colour": mean(v.colour for v in videos), "background": mean(v.background for v in videos),
        "shape": mean(v.shape if v.shape is not None else 0.0 for v in videos),
        "motion": mean(float(v.motion_ok) for v in measured),
    }
    motion = {"measured_videos": len(measured), "videos": len(videos),
              "median_error_px": float(np.median(errors)) if errors else None,
              "max_error_px": float(max(errors)) if errors else None}
    return {"overall": overall, "per_name": per_name, "motion": motion}


def asked_motion(scene: data.Scene) -> tuple[float, float]:
    """The motion an evaluation scene asks: MOTIONS in turn over :func:`evaluation_scenes`."""
    return MOTIONS[evaluation_scenes().index(scene) % len(MOTIONS)]


def make_videos(model: str | Path, scenes: list[data.Scene], seeds: int, guidance: float | None = None,
                frames: int = VIDEO_FRAMES, cache=None, grid: list | None = None) -> list[VideoScore]:
    """One video per evaluation scene and seed (seeds 1000, 1001, ...; seed-minor), through the
    engine, each asking :func:`asked_motion`; a subset of the scenes makes the same videos as the
    whole evaluation. ``grid``: a list to append each video's first and last frames to."""
    from t2vz_desktop.engine.jobs import ModelCache, run_generation
    from t2vz_desktop.engine.request import GenerationRequest

    cache = cache or ModelCache(capacity=1)
    scores = []
    for scene in scenes:
        motion = asked_motion(scene)
        request = GenerationRequest(prompts=[video_prompt(scene)], model=str(model), frames=frames, motion=motion,
                                    seed=1000, videos_per_prompt=seeds, guidance=guidance)
        result = run_generation(request, cache=cache, previews=False)
        for v in range(result.videos):
            frames_v = list(result.frames(v))
            scores.append(score_video(frames_v, scene, motion))
            if grid is not None:
                grid += [frames_v[0], frames_v[-1]]
    return scores


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


DENOISE_TIMESTEPS = (100, 300, 500, 700)


def checked_pipeline(folder: Path, parser):
    """The model's pipeline (fp32, CPU) loaded as the engine loads it, so that weights which do not
    fit its files are one line, exit 2 (parser.error), not a traceback."""
    from t2vz_desktop.engine.models import ModelError, load_model

    try:
        return load_model(str(folder), device="cpu", dtype="fp32").pipe
    except ModelError as e:
        parser.error(str(e))


def denoising_score(model: Path, timesteps: tuple[int, ...] = DENOISE_TIMESTEPS, per_shape: int = 24) -> dict:
    """Where the sampler loses shapes: the renderer's images (continuous placement, polygons turned
    by a uniform angle) encoded, noised to each timestep, denoised in one step to the model's x0
    prediction under their full caption (no guidance), decoded and read back. Returns
    {t: {"x0_mse": latent MSE, "snr": SNR at t, "shape": {shape: fraction read right}}}: a model
    that rounds squares here cannot draw them, whatever the sampler (issue 22)."""
    import torch
    from diffusers import DDIMScheduler, StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(model, safety_checker=None, requires_safety_checker=False)
    schedule = DDIMScheduler.from_pretrained(model, subfolder="scheduler")
    scale = pipe.vae.config.scaling_factor
    pairs = [(c, b) for c in data.COLOURS for b in data.COLOURS if c != b]
    rng = np.random.default_rng(5)
    result: dict = {}
    for shape in data.SHAPES:
        scenes = [data.Scene(shape, *pairs[(7 * i) % len(pairs)], data.SIZES[i % 2], data.POSITIONS[i % 9])
                  for i in range(per_shape)]
        x = torch.from_numpy(np.stack([data.render(s, rng, "continuous") for s in scenes])).permute(0, 3, 1, 2)
        ids = pipe.tokenizer([s.full_caption() for s in scenes], padding="max_length", truncation=True,
                             max_length=pipe.tokenizer.model_max_length, return_tensors="pt").input_ids
        with torch.no_grad():
            z0 = pipe.vae.encode(x.float() / 127.5 - 1.0).latent_dist.mean * scale
            context = pipe.text_encoder(ids)[0]
            for t in timesteps:
                noise = torch.randn(z0.shape, generator=torch.Generator().manual_seed(t))
                tt = torch.full((len(z0),), t)
                zt = schedule.add_noise(z0, noise, tt)
                a = schedule.alphas_cumprod[t]
                out = pipe.unet(zt, tt, context).sample
                if schedule.config.prediction_type == "v_prediction":
                    x0 = a.sqrt() * zt - (1 - a).sqrt() * out
                else:
                    x0 = (zt - (1 - a).sqrt() * out) / a.sqrt()
                frames = ((pipe.vae.decode(x0 / scale).sample.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
                read = [analyse(f) for f in frames.permute(0, 2, 3, 1).numpy()]
                row = result.setdefault(str(t), {"snr": round(float(a / (1 - a)), 4), "x0_mse": {}, "shape": {}})
                row["x0_mse"][shape] = round(float(((x0 - z0) ** 2).mean()), 5)
                row["shape"][shape] = float(np.mean([r.shape == shape for r in read]))
    return result


def print_table(result: dict, title: str) -> None:
    o = result["overall"]
    print(f"\n{title}")
    print("  " + "  ".join(f"{k} {v:.0%}" for k, v in o.items()))
    if "motion" in result:
        m = result["motion"]
        print(f"  motion measured on {m['measured_videos']} of {m['videos']} videos, median error "
              f"{m['median_error_px']} px/frame, largest {m['max_error_px']} px/frame")
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
    if not cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write the grid to {path}")


def grid_path(text: str) -> Path:
    """An argparse `type` for --grid: a .png or .jpg in a folder that exists, not a folder."""
    path = Path(text)
    if path.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise argparse.ArgumentTypeError(f"{text}: give a .png or .jpg file name")
    if path.is_dir() or not path.resolve().parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: {'is a folder' if path.is_dir() else 'its folder does not exist'}")
    return path


def guidance_scales(text: str) -> list[float]:
    """'3,5,7.5' -> [3.0, 5.0, 7.5] (an argparse type: a bad item is one line, before any video)."""
    scales = [number(float, 0.0, 100.0)(item.strip()) for item in text.split(",") if item.strip()]
    if not scales:
        raise argparse.ArgumentTypeError(f"{text!r} names no guidance scale (e.g. 3,5,7.5)")
    return sorted(set(scales))


def main(argv: list[str] | None = None) -> dict:
    p = OneLineParser(prog="python -m t2vz_desktop.demo_model.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("model", type=model_folder, nargs="?", default=str(demo_model_dir()),
                   help="model folder (default: the built-in demo model)")
    p.add_argument("--seeds", type=number(int, 1), default=3, help="seeds (videos) per prompt")
    p.add_argument("--sweep", type=guidance_scales, default=[], help="also score these guidance scales, e.g. 3,5,7.5")
    p.add_argument("--grid", type=grid_path, default=None, help="save every video's first and last frames as one PNG")
    p.add_argument("--threads", type=number(int, 1), default=2)
    p.add_argument("--no-write", action="store_true", help="do not write evaluation.json / the card")
    a = p.parse_args(argv)
    if not (a.model / "t2vz.json").is_file():
        p.error(f"{a.model} has no t2vz.json: this measures a demo model (made by demo_model.train)")
    defaults = read_defaults(a.model)  # checked by model_folder: read here once
    if not {"steps", "guidance"} <= set(defaults):
        p.error(f"{a.model / 't2vz.json'} names no steps or guidance: this measures at the model's own settings")

    import torch

    from t2vz_desktop.engine.jobs import ModelCache

    torch.set_num_threads(a.threads)
    scenes = evaluation_scenes()

    rng = np.random.default_rng(0)
    reference = score([analyse(data.render(s, rng)) for s in scenes * a.seeds], scenes * a.seeds)
    print_table(reference, "classifiers on the renderer's own images (should be ~100%)")

    vae = checked_pipeline(a.model, p).vae
    reconstruction = reconstruction_score(vae, scenes, a.seeds)
    print_table(reconstruction, "VAE reconstructions of the renderer's images (the ceiling for samples)")

    denoising = denoising_score(a.model)
    print("\none-step x0 predictions of the renderer's images noised to t (shapes read right; latent MSE)")
    for t, row in denoising.items():
        print(f"  t={t:>4} SNR {row['snr']:<7g} " + "  ".join(
            f"{k} {row['shape'][k]:.0%} ({row['x0_mse'][k]:.4f})" for k in data.SHAPES))

    cache = ModelCache(capacity=1)
    started = time.monotonic()
    grid: list[np.ndarray] = []
    videos = make_videos(a.model.resolve(), scenes, a.seeds, cache=cache, grid=grid if a.grid else None)
    result = summarise(videos)
    print_table(result, f"model: {len(videos)} videos of {VIDEO_FRAMES} frames, {defaults['steps']} "
                        f"{sampler_name(defaults)} steps, "
                        f"guidance {defaults['guidance']:g} ({time.monotonic() - started:.0f} s)")
    if a.grid:
        save_grid(np.stack(grid), a.grid, columns=12)

    sweep = {}
    for g in a.sweep:
        sweep[f"{g:g}"] = o = summarise(make_videos(a.model.resolve(), scenes, a.seeds, guidance=g, cache=cache))["overall"]
        print(f"guidance {g:g}: " + "  ".join(f"{k} {v:.0%}" for k, v in o.items()))

    evaluation = {
        "videos": len(videos), "frames": VIDEO_FRAMES, "prompts": len(scenes), "seeds": a.seeds,
        "steps": defaults["steps"], "guidance": defaults["guidance"], "scheduler": defaults.get("scheduler", "ddim"),
        "prompt_form": "a COLOUR SHAPE on a COLOUR background", "motions": [list(m) for m in MOTIONS],
        "motion_tolerance": MOTION_TOLERANCE, "min_track": MIN_TRACK,
        "overall": result["overall"], "per_name": result["per_name"], "motion": result["motion"],
        "reference": reference["overall"], "vae_reconstruction": reconstruction["overall"],
        "guidance_sweep": sweep, "denoising": denoising,
    }
    if not a.no_write:
        (a.model / "evaluation.json").write_text(json.dumps(evaluation, indent=2) + "\n")
        write_model_card(a.model)
    return evaluation


if __name__ == "__main__":
    main()
