"""Does flow-guided editing (engine/flow_guidance.py) keep the source's motion? Motion alignment
(measure/alignment.py: mean end-point error between the DIS flows of the edit and of its source,
px per frame, lower is better; a still edit scores the source's own mean motion, printed beside
it), warping error (measure/metrics.py, DIS) and, on the demo model,
how often each frame shows the prompted colours, for every edit mode and strength.

    python benchmarks/flow_guidance.py                     # demo model and tiny weights
    python benchmarks/flow_guidance.py --models tiny       # tiny weights only (~1 min an edit on 2 cores)
    python benchmarks/flow_guidance.py --models demo --flat --strengths 0 1 --modes canny  # flat colours

Sources are drawn here (no downloads): a textured disc moving right 4 px a frame over a textured
background, a triangle turning 8 degrees a frame, and a square zooming 6% a frame; 8 frames at
8 fps, 128 px. Edit modes: "canny" (ControlNet-guided, shared noise, the default edit),
"canny+motion" (--motion-field: the paper's motion init) and, on tiny weights, "pix2pix" (an
instruction, Instruct-Pix2Pix's 8-channel UNet; the demo model has none). The demo model edits with its own Canny
ControlNet (demo_model/train_controlnet.py) and a prompt that recolours the source's shape
("a yellow triangle on a purple background" for the red triangle on blue). Tiny weights: random
components (tests/tiny_models.py), their ControlNet and Instruct-Pix2Pix UNet random too.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

SIZE, FRAMES, FPS = 128, 8, 8.0
STRENGTHS = (0.0, 0.5, 0.8, 1.0)
SHAPES = {"moving": "circle", "turning": "triangle", "zooming": "square"}


def textured(seed: int, colour: tuple[int, int, int], size: int = SIZE) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0), 2.5)
    noise = noise / (np.abs(noise).max() + 1e-6)
    return np.clip(np.array(colour, np.float32) * (1 + 0.35 * noise[..., None]), 0, 255).astype(np.uint8)


def scene(kind: str, k: int, flat: bool = False) -> np.ndarray:
    """Frame k of a synthetic source: a textured object on a textured background (`flat`: both in
    one colour each, as a newcomer's test clip and much generated footage are)."""
    frame = np.full((SIZE, SIZE, 3), (40, 70, 200), np.uint8) if flat else textured(1, (40, 70, 200)).copy()
    obj = np.full((SIZE, SIZE, 3), (220, 40, 40), np.uint8) if flat else textured(2, (220, 40, 40))
    mask = np.zeros((SIZE, SIZE), np.uint8)
    c = SIZE / 2
    if kind == "moving":
        cv2.circle(mask, (round(30 + 4 * k), round(c)), 20, 1, -1)
    elif kind == "turning":
        a = math.radians(8 * k)
        pts = [(c + 34 * math.cos(a + t), c - 34 * math.sin(a + t)) for t in (math.pi / 2, math.pi * 7 / 6, math.pi * 11 / 6)]
        cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 1)
    else:  # zooming
        half = 14 * 1.06**k
        cv2.rectangle(mask, (round(c - half), round(c - half)), (round(c + half), round(c + half)), 1, -1)
    frame[mask.astype(bool)] = obj[mask.astype(bool)]
    return frame


def write_source(kind: str, folder: Path, flat: bool = False) -> Path:
    from t2vz_desktop.media import ExportOptions, export_video

    path = folder / f"{kind}.mp4"
    export_video(iter([scene(kind, k, flat) for k in range(FRAMES)]), path, ExportOptions(fps=FPS, crf=0))
    return path


def colour_share(frames: list[np.ndarray], colour: str, background: str) -> float:
    from t2vz_desktop.demo_model.evaluate import analyse

    readings = [analyse(f) for f in frames]
    return float(np.mean([r.colour == colour and r.background == background for r in readings]))


MODES = ("canny", "canny+motion", "pix2pix")


def run(models: list[str], seeds: int, flat: bool = False, strengths: tuple[float, ...] = STRENGTHS,
        modes: tuple[str, ...] = MODES) -> None:
    from t2vz_desktop.conditions.source import SourceSpec, open_source
    from t2vz_desktop.engine.jobs import ModelCache, run_generation
    from t2vz_desktop.engine.request import ControlSpec, EditSpec, GenerationRequest
    from t2vz_desktop.measure import score_frames
    from t2vz_desktop.measure.alignment import motion_alignment

    cache = ModelCache(capacity=2)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sources = {kind: write_source(kind, tmp, flat) for kind in ("moving", "turning", "zooming")}
        setups = {}
        if "demo" in models:
            setups["demo"] = ("demo", None, "a yellow {shape} on a purple background", {}, None)
        if "tiny" in models:
            import tiny_models
            from diffusers import ControlNetModel, UNet2DConditionModel

            folder = tiny_models.save_tiny_folder(tmp / "tiny-sd")
            net = ControlNetModel.from_unet(UNet2DConditionModel.from_pretrained(folder / "unet"),
                                            conditioning_embedding_out_channels=(8, 16))
            tiny_models.randomize_(net, 99)
            net.save_pretrained(tmp / "tiny-canny")
            pix2pix = tiny_models.save_tiny_folder(tmp / "tiny-pix2pix", seed=1, in_channels=8)
            setups["tiny"] = (str(folder), str(tmp / "tiny-canny"), "a red {shape}",
                              {"steps": 10, "width": 64, "height": 64}, str(pix2pix))
        print("| model | source | mode | flow guidance | motion alignment EPE (px/frame) | source motion (px/frame) | "
              "warping error | prompted colours | s/edit |")
        print("|---|---|---|---|---|---|---|---|---|")
        for name, (model, net, prompt, extra, pix2pix) in setups.items():
            for kind, path in sources.items():
                for mode in (m for m in modes if m != "pix2pix" or pix2pix):
                    for strength in strengths:
                        epe, moved, warp, colours, seconds = [], [], [], [], []
                        for seed in range(seeds):
                            if mode == "pix2pix":
                                edit = EditSpec(source=str(path), instruct=True, image_guidance=1.5,
                                                flow_guidance=strength, keep_audio=False)
                                used, text = pix2pix, f"make the {SHAPES[kind]} yellow"
                            else:
                                edit = EditSpec(source=str(path), controls=[ControlSpec("canny", net)],
                                                motion_field=mode.endswith("motion"), flow_guidance=strength,
                                                keep_audio=False)
                                used, text = model, prompt.format(shape=SHAPES[kind])
                            request = GenerationRequest(prompts=[text], model=used, seed=seed, edit=edit,
                                                        device="cpu", **extra)
                            started = time.perf_counter()
                            result = run_generation(request, cache=cache, previews=False)
                            frames = list(result.frames())
                            seconds.append(time.perf_counter() - started)
                            clip = open_source(SourceSpec.of_edit(edit, result.recipe.width, result.recipe.height))
                            alignment = motion_alignment(frames, clip.iter_frames())
                            epe.append(alignment.motion_alignment_epe)
                            moved.append(alignment.source_motion)
                            warp.append(score_frames(frames).warping_error)
                            if name == "demo":
                                colours.append(colour_share(frames, "yellow", "purple"))
                        shown = f"{np.mean(colours):.0%}" if colours else "-"
                        print(f"| {name} | {kind} | {mode} | {strength:g} | {np.mean(epe):.3f} | {np.mean(moved):.3f} | "
                              f"{np.mean(warp):.5f} | "
                              f"{shown} | {np.mean(seconds):.1f} |", flush=True)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=["demo", "tiny"], choices=["demo", "tiny"])
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--flat", action="store_true", help="sources in flat colours, without texture")
    p.add_argument("--strengths", type=float, nargs="+", default=list(STRENGTHS))
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES, help="pix2pix: tiny weights only")
    a = p.parse_args(argv)
    import torch

    torch.set_num_threads(a.threads)
    run(a.models, a.seeds, a.flat, tuple(a.strengths), tuple(a.modes))


if __name__ == "__main__":
    main()
