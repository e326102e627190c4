"""The golden set: PNG frames of a fixed set of runs, every option on its own and all together,
so that a reshaping of the engine can show it changed no pixel.

    python tests/golden.py --out tests/golden            # (re)make the committed set
    python tests/golden.py --out /tmp/here                # make it from this checkout
    python tests/golden.py --compare /tmp/base /tmp/here  # largest difference per run, in levels

The bit-exact check of a reshaping: make the set from the base commit (a `git worktree` of it)
and from the change on the same machine, then `--compare` them: every run should read 0.
tests/test_golden.py compares this checkout with the committed set within 1 level, since
another CPU may round a float differently (the kernels' summation order is the CPU's).

Runs use tiny random weights that this script builds (tests/tiny_models.py, fixed seeds) and
the built-in demo model; sources and images are drawn here, so nothing is downloaded.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

from t2vz_desktop.engine.camera import CameraKey  # noqa: E402
from t2vz_desktop.engine.request import ControlSpec, EditSpec, GenerationRequest, PromptKey  # noqa: E402

GOLDEN = HERE / "golden"
SIZE, FRAMES, STEPS = 32, 5, 6


class Assets:
    """The models, images and source video the runs need, made once in `folder`."""

    def __init__(self, folder: Path):
        import tiny_models
        from diffusers import ControlNetModel, UNet2DConditionModel
        from test_edit import write_square_video

        self.tiny = tiny_models.save_tiny_folder(folder / "tiny-sd")
        self.pix2pix = tiny_models.save_tiny_folder(folder / "pix2pix", in_channels=8)
        net = ControlNetModel.from_unet(UNet2DConditionModel.from_pretrained(self.tiny / "unet"),
                                        conditioning_embedding_out_channels=(8, 16))
        tiny_models.randomize_(net, 99)
        self.controlnet = folder / "controlnet"
        net.save_pretrained(self.controlnet)
        self.source = write_square_video(folder / "square.mp4")
        self.start, self.end = folder / "start.png", folder / "end.png"
        for path, (bg, fg, x) in ((self.start, ((40, 60, 200), (220, 30, 30), 10)),
                                  (self.end, ((230, 220, 40), (30, 160, 40), 22))):
            image = np.zeros((64, 64, 3), np.uint8)
            image[:] = bg
            cv2.circle(image, (2 * x, 32), 12, fg, -1)
            cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))


def runs(a: Assets) -> dict[str, GenerationRequest]:
    """Every run of the set by name."""
    def tiny(**kw) -> GenerationRequest:
        base = dict(prompts=["a red circle"], model=str(a.tiny), frames=FRAMES, width=SIZE, height=SIZE, steps=STEPS,
                    seed=7, chunk_size=0, device="cpu", smooth=0.0)
        return GenerationRequest(**{**base, **kw})

    def demo(**kw) -> GenerationRequest:
        base = dict(prompts=["a large red circle on a blue background"], model="demo", frames=FRAMES, seed=3,
                    chunk_size=0, device="cpu", smooth=0.0)
        return GenerationRequest(**{**base, **kw})

    camera = [CameraKey(0), CameraKey(FRAMES - 1, pan=(6.0, -3.0), zoom=1.4, rotate=15.0, ease="ease")]
    travel = [PromptKey(0, "a red circle"), PromptKey(3, "a blue square")]
    # The paper's method (flow guidance 0, as before the option was on by default), and the default.
    canny = EditSpec(source=str(a.source), controls=[ControlSpec("canny", str(a.controlnet))], flow_guidance=0.0)
    return {
        "plain": tiny(),
        "chunk-2": tiny(chunk_size=2),
        "two-videos-two-prompts": tiny(prompts=["a red circle", "a blue square"], videos_per_prompt=2, frames=3),
        "no-cross-frame": tiny(cross_frame_attention=False),
        "attention-window": tiny(attention_window=2),
        "noise-window": tiny(noise_window=2),
        "fill-noise": tiny(motion=(4.0, 2.0), motion_fill="noise"),
        "fill-reflect": tiny(motion=(4.0, 2.0), motion_fill="reflect"),
        "camera": tiny(camera=camera),
        "travel": tiny(prompt_keys=travel),
        "travel-seeded-key": tiny(prompt_keys=[travel[0], PromptKey(3, "a blue square", seed=11)], prompt_blend="slerp"),
        "image-to-video": tiny(init_image=str(a.start)),
        "start-and-end-image": tiny(init_image=str(a.start), end_image=str(a.end)),
        "background-smoothing": tiny(background_smoothing=0.6),
        "background-refined": tiny(background_smoothing=0.6, subject_mask="refined"),
        "smoother": tiny(smooth=0.5),
        "euler-a": tiny(scheduler="euler-a"),
        "dpm++": tiny(scheduler="dpm++"),
        "canny-edit": tiny(prompts=["a red square"], edit=canny),
        "canny-edit-chunk-3": tiny(prompts=["a red square"], edit=canny,
                                   chunk_size=3),
        "canny-edit-flow-guided": tiny(prompts=["a red square"], edit=replace(canny, flow_guidance=1.0), chunk_size=3),
        "pix2pix-edit": tiny(prompts=["make it red"], model=str(a.pix2pix),
                             edit=EditSpec(source=str(a.source), instruct=True, image_guidance=1.5, flow_guidance=0.0),
                             chunk_size=3),
        "all-together": tiny(chunk_size=2, attention_window=2, noise_window=2, camera=camera, motion_fill="noise",
                             background_smoothing=0.6, smooth=0.5, frames=6),
        "demo": demo(),
        "demo-travel": demo(prompt_keys=[PromptKey(0, "a large red circle on a blue background"),
                                         PromptKey(4, "a large yellow square on a blue background")]),
    }


def render(request: GenerationRequest, cache) -> np.ndarray:
    """Every frame of every video of one run as uint8, (videos * frames, h, w, 3)."""
    from t2vz_desktop.engine.jobs import run_generation

    result = run_generation(request, cache=cache)
    return np.stack([f for v in range(result.videos) for f in result.frames(v)])


def make(out: Path, only: list[str] | None = None) -> None:
    import torch

    from t2vz_desktop.engine.jobs import ModelCache

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))  # as the suite runs
    cache = ModelCache(capacity=3)
    with tempfile.TemporaryDirectory() as tmp:
        for name, request in runs(Assets(Path(tmp))).items():
            if only and name not in only:
                continue
            folder = out / name
            folder.mkdir(parents=True, exist_ok=True)
            for old in folder.glob("frame_*.png"):
                old.unlink()
            for k, frame in enumerate(render(request, cache)):
                cv2.imwrite(str(folder / f"frame_{k:05d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            print(f"{name}: {k + 1} frames", flush=True)


def load(folder: Path) -> np.ndarray:
    files = sorted(folder.glob("frame_*.png"))
    return np.stack([cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB) for f in files])


def compare(a: Path, b: Path) -> int:
    """Print the largest difference per run in levels; return how many runs differ at all."""
    differ = 0
    for folder in sorted(p for p in a.iterdir() if p.is_dir()):
        x, y = load(folder), load(b / folder.name)
        worst = int(np.abs(x.astype(int) - y.astype(int)).max()) if x.shape == y.shape else -1
        differ += worst != 0
        print(f"{folder.name}: " + ("shapes differ" if worst < 0 else f"max difference {worst} level(s)"))
    return differ


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, help="folder to write the set to")
    p.add_argument("--only", nargs="*", help="make these runs only")
    p.add_argument("--compare", type=Path, nargs=2, metavar=("A", "B"))
    args = p.parse_args(argv)
    if args.compare:
        return 1 if compare(*args.compare) else 0
    if not args.out:
        p.error("give --out or --compare")
    make(args.out, args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
