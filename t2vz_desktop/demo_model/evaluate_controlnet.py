"""Measure how well edits with the demo model's Canny ControlNet keep the source's shapes.

    python -m t2vz_desktop.demo_model.evaluate_controlnet [FOLDER] [--scenes 40] [--seeds 1]

Each source is 8 frames of an evaluation scene (evaluate.evaluation_scenes) drawn at 64 px, its
object moving as the scene's asked motion (evaluate.asked_motion) and, if a polygon, turning 6
degrees a frame; it is written losslessly and edited through the engine as `t2vz edit --mode
canny --model demo` edits it, with a prompt that asks other colours for the same shape. Every
frame is read back with plain OpenCV (evaluate.analyse):

- outline IoU: the edit's object region against the source's, pixel for pixel;
- centroid error: distance between the two regions' centroids, px;
- colour, background and shape: the fraction of frames read as prompted.

Prints a table and, unless ``--no-write``, rewrites ``evaluation.json`` and the card (README.md) in
the ControlNet's folder.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..arguments import OneLineParser, number
from ..engine.models import demo_model_dir
from . import data
from .evaluate import PALETTE_NAMES, analyse, asked_motion, centroid, evaluation_scenes, object_region

FRAMES, FPS = 8, 8.0
TURN = math.radians(6)  # per frame, polygons only


@dataclass
class EditScore:
    scene: data.Scene  # the edit's prompted scene (the source's shape, other colours)
    iou: float  # mean over frames
    centroid_px: float | None  # mean over the frames where both regions exist
    colour: float
    background: float
    shape: float


def source_frames(scene: data.Scene) -> list[np.ndarray]:
    """The source: ``scene`` drawn FRAMES times at 64 px, moving and turning. (FRAMES of (64, 64, 3) uint8)"""
    r = data.SIZE_RADIUS[scene.size]
    x, y = data.object_centre(scene.position, r)
    dx, dy = asked_motion(scene)
    turn = TURN if scene.shape != "circle" else 0.0
    return [data.draw(scene, x + k * dx, y + k * dy, r, k * turn) for k in range(FRAMES)]


def recoloured(scene: data.Scene) -> data.Scene:
    """The same shape, size and place in other colours: the edit's prompt."""
    i = PALETTE_NAMES.index(scene.colour)
    colour = PALETTE_NAMES[(i + 3) % len(PALETTE_NAMES)]
    background = PALETTE_NAMES[(PALETTE_NAMES.index(scene.background) + 5) % len(PALETTE_NAMES)]
    if background == colour:
        background = PALETTE_NAMES[(PALETTE_NAMES.index(background) + 1) % len(PALETTE_NAMES)]
    return data.Scene(scene.shape, colour, background, scene.size, scene.position)


def iou(a: np.ndarray | None, b: np.ndarray | None) -> float:
    if a is None or b is None:
        return 0.0
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


def score_edit(edit: list[np.ndarray], source: list[np.ndarray], asked: data.Scene) -> EditScore:
    """How well an edit's frames keep the source's outlines and show the asked colours."""
    ious, offsets = [], []
    for e, s in zip(edit, source):
        a, b = object_region(e), object_region(s)
        ious.append(iou(a, b))
        if a is not None and b is not None:
            offsets.append(math.dist(centroid(a), centroid(b)))
    readings = [analyse(f) for f in edit]
    return EditScore(
        scene=asked, iou=float(np.mean(ious)), centroid_px=float(np.mean(offsets)) if offsets else None,
        colour=float(np.mean([r.colour == asked.colour for r in readings])),
        background=float(np.mean([r.background == asked.background for r in readings])),
        shape=float(np.mean([r.shape == asked.shape for r in readings])),
    )


def write_source(frames: list[np.ndarray], path: Path) -> Path:
    from ..media import ExportOptions, export_video

    export_video(iter(frames), path, ExportOptions(fps=FPS, crf=0))
    return path


def make_edits(scenes: list[data.Scene], seeds: int, net: str | None = None, cache=None,
               **request_fields) -> list[EditScore]:
    """Edit each scene's source with each seed (0, 1, ...) through the engine; ``net`` None is the
    demo model's own Canny ControlNet, ``request_fields`` any other recipe fields (flow_guidance...)."""
    from ..engine.jobs import ModelCache, run_generation
    from ..engine.request import ControlSpec, EditSpec, GenerationRequest

    cache = cache or ModelCache(capacity=1)
    edit_fields = {k: v for k, v in request_fields.items() if k in EditSpec.__dataclass_fields__}
    request_fields = {k: v for k, v in request_fields.items() if k not in edit_fields}
    scores = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, scene in enumerate(scenes):
            frames = source_frames(scene)
            path = write_source(frames, Path(tmp) / f"source{n}.mp4")
            asked = recoloured(scene)
            edit = EditSpec(source=str(path), controls=[ControlSpec("canny", net)], keep_audio=False, **edit_fields)
            request = GenerationRequest(prompts=[data.caption(asked, False, False, True)], model="demo", seed=0,
                                        videos_per_prompt=seeds, edit=edit, device="cpu", **request_fields)
            result = run_generation(request, cache=cache, previews=False)
            scores += [score_edit(list(result.frames(v)), frames, asked) for v in range(result.videos)]
    return scores


def summarise(scores: list[EditScore]) -> dict:
    offsets = [s.centroid_px for s in scores if s.centroid_px is not None]
    per_shape = {shape: float(np.mean([s.shape for s in scores if s.scene.shape == shape]))
                 for shape in data.SHAPES if any(s.scene.shape == shape for s in scores)}  # the shapes measured
    return {
        "edits": len(scores),
        "iou": float(np.mean([s.iou for s in scores])),
        "centroid_px": float(np.mean(offsets)) if offsets else None,
        "colour": float(np.mean([s.colour for s in scores])),
        "background": float(np.mean([s.background for s in scores])),
        "shape": float(np.mean([s.shape for s in scores])),
        "shape_per_name": per_shape,
    }


def remake_command(s: dict, folder: Path) -> str:
    """The command that trains the ControlNet in `folder` again, with settings `s` (its training_info.json's)."""
    from .train_controlnet import FOLDER_NAME

    shipped = Path(folder).resolve() == (demo_model_dir() / FOLDER_NAME).resolve()
    budget = f"--steps {s['steps']}" if s.get("steps") else f"--minutes {s['minutes']:g}"
    return (f"python -m t2vz_desktop.demo_model.train_controlnet --out "
            f"{'resources/models/demo/' + FOLDER_NAME if shipped else folder} {budget} --batch {s['batch']}"
            f" --lr {s['lr']:g} --seed {s['seed']} --num-images {s['num_images']} --threads {s['threads']}")


def card_text(folder: Path) -> str:
    """The ControlNet's card, from training_info.json and (when measured) evaluation.json."""
    info = json.loads((folder / "training_info.json").read_text())
    s = info["settings"]
    lines = [
        "# t2vz-desktop demo model: Canny ControlNet", "",
        "A ControlNet (Zhang et al. 2023) for the built-in demo model, so that edge-guided editing"
        " (`t2vz edit --mode canny --model demo`, the app's Edit with...) works with no download. It"
        " fits that model only: it was trained beside its UNet, and re-training the demo model"
        " replaces this folder.", "",
        "## Training", "",
        "```", remake_command(s, folder), "```", "",
        f"- Initialised from the demo UNet's encoder (diffusers' `ControlNetModel.from_unet`, zero output"
        f" convolutions), condition embedding channels 16, 32, 64 (the demo VAE's 4x); {info['parameters']:,}"
        " parameters.",
        f"- Data: {s['num_images']:,} of the demo model's own training scenes (data.py, seed {s['seed']}), each"
        " conditioned on its Canny edges as the editor makes them (thresholds 100/200 at 64 px);"
        f" {s['caption_dropout']:.0%} of the captions empty, so that it reads the edges alone.",
        f"- {info['steps']:,} steps of batch {s['batch']}, AdamW lr {s['lr']:g} with warm-up and cosine decay,"
        " the base's v-prediction loss and min-SNR weighting, frozen UNet, text encoder and VAE, EMA"
        f" {s['ema_decay']} of the weights saved; loss {info['loss_first_last'][0]:.4f} ->"
        f" {info['loss_first_last'][1]:.4f} (means of the first and last 50 steps).",
        f"- Time: {info['seconds'] / 60:.1f} minutes on a 2-core CPU (torch {info['torch']}).", "",
    ]
    evaluation = folder / "evaluation.json"
    if evaluation.exists():
        e = json.loads(evaluation.read_text())
        o = e["result"]
        lines += [
            "## Accuracy", "",
            f"Measured by `python -m t2vz_desktop.demo_model.evaluate_controlnet`: {o['edits']} edits of 8-frame"
            " sources (the demo evaluation's scenes, each object moving and turning) through the engine,"
            " each prompted with other colours for the same shape; every frame read back.", "",
            "| outline IoU with the source | centroid error | colour | background | shape |",
            "|---|---|---|---|---|",
            f"| {o['iou']:.2f} | {o['centroid_px']:.2f} px | {o['colour']:.0%} | {o['background']:.0%} |"
            f" {o['shape']:.0%} |", "",
            "Shape per name: " + ", ".join(f"{k} {v:.0%}" for k, v in o["shape_per_name"].items()) + ".", "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    p = OneLineParser(prog="python -m t2vz_desktop.demo_model.evaluate_controlnet", description=__doc__.split("\n\n")[0])
    p.add_argument("folder", type=Path, nargs="?", default=None,
                   help="the ControlNet folder (default: the demo model's own)")
    p.add_argument("--scenes", type=number(int, 1, len(evaluation_scenes())), default=len(evaluation_scenes()),
                   help="evaluation scenes, spread over every colour and shape (default %(default)s: all)")
    p.add_argument("--seeds", type=number(int, 1), default=1, help="edits per scene (default %(default)s)")
    p.add_argument("--no-write", action="store_true",
                   help="only print; without it evaluation.json and the card (README.md) in the folder are rewritten")
    a = p.parse_args(argv)
    from .train_controlnet import FOLDER_NAME

    folder = a.folder or demo_model_dir() / FOLDER_NAME
    if not (folder / "config.json").is_file():
        p.error(f"{folder}: not a ControlNet folder (no config.json)")
    scenes = evaluation_scenes()[:: max(1, len(evaluation_scenes()) // a.scenes)][: a.scenes]
    started = time.monotonic()
    result = summarise(make_edits(scenes, a.seeds, str(folder)))
    print("| edits | outline IoU | centroid error px | colour | background | shape |")
    print("|---|---|---|---|---|---|")
    print(f"| {result['edits']} | {result['iou']:.3f} | {result['centroid_px']:.2f} | {result['colour']:.0%} |"
          f" {result['background']:.0%} | {result['shape']:.0%} |")
    if a.no_write:
        return result
    from ..media.atomic import atomic_write_text

    atomic_write_text(folder / "evaluation.json", json.dumps(
        {"scenes": a.scenes, "seeds": a.seeds, "seconds": round(time.monotonic() - started, 1), "result": result},
        indent=2) + "\n")
    if (folder / "training_info.json").exists():
        atomic_write_text(folder / "README.md", card_text(folder) + "\n")
    return result


if __name__ == "__main__":
    main()
