"""Which of a model's cross-attention layers show the prompt's subject where it is drawn.

    python -m t2vz_desktop.demo_model.mask_layers resources/models/demo [--write]

Background smoothing takes its foreground mask from the attention of the subject words. In
Stable Diffusion the low-resolution layers give object-shaped maps; a small model may differ
layer by layer (on the first demo model some layers attended to the subject words *outside*
the object). This measures it on the model's own images: each evaluation scene is sampled
(seeds apart from the tests'), encoded again, noised to a few timesteps across the schedule,
and one UNet call per timestep records every cross-attention layer's attention to the subject
words. A layer's score is its mean attention inside the drawn object over the mean outside
(1: blind to the object; above 1: on it; below 1: inverted). Layers scoring at least
``MIN_SCORE`` are the model's ``subject_layers`` in t2vz.json (``--write``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..arguments import OneLineParser, model_folder, number
from ..engine.models import demo_model_dir
from .evaluate import evaluation_scenes, object_region

MIN_SCORE = 1.25
TIMESTEPS = (900, 700, 500, 300, 100)
SEED_BASE = 5000  # the tests and evaluate.py sample other seeds


class Recorder:
    """Cross-attention processor that keeps every row's attention to its subject tokens."""

    def __init__(self, inner, name: str, tokens: list[list[int]], store: dict):
        self.inner, self.name, self.tokens, self.store = inner, name, tokens, store

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kwargs):
        if encoder_hidden_states is not None:
            from t2vz_desktop.engine.background import subject_attention

            maps = [subject_attention(attn, hidden_states[i : i + 1], encoder_hidden_states[i : i + 1], t)[0]
                    for i, t in enumerate(self.tokens)]
            self.store.setdefault(self.name, []).append(np.stack([m.float().numpy() for m in maps]))
        return self.inner(attn, hidden_states, encoder_hidden_states, attention_mask, temb)


def layer_scores(pipe, seeds: int = 1) -> dict[str, float]:
    """Score per cross-attention layer (name without ".processor"), over the evaluation scenes."""
    import cv2
    import torch

    from t2vz_desktop.engine.background import default_subject, subject_token_positions

    scenes = [s for s in evaluation_scenes() for _ in range(seeds)]
    prompts = [s.full_caption() for s in scenes]
    generators = [torch.Generator().manual_seed(SEED_BASE + i) for i in range(len(scenes))]
    images = pipe(prompt=prompts, num_inference_steps=20, guidance_scale=5.0, generator=generators,
                  output_type="np").images
    images = (np.clip(images, 0, 1) * 255).round().astype(np.uint8)
    keep = [i for i, im in enumerate(images) if object_region(im) is not None]
    if not keep:
        return {}
    tokens = [subject_token_positions(pipe.tokenizer, prompts[i], default_subject(prompts[i])) for i in keep]

    with torch.no_grad():
        pixels = torch.from_numpy(images[keep]).permute(0, 3, 1, 2).float() / 127.5 - 1
        latents = pipe.vae.encode(pixels).latent_dist.mode() * pipe.vae.config.scaling_factor
        text = pipe.encode_prompt([prompts[i] for i in keep], "cpu", 1, False)[0]
        store: dict[str, list[np.ndarray]] = {}
        previous = dict(pipe.unet.attn_processors)
        pipe.unet.set_attn_processor({
            name: Recorder(p, name.removesuffix(".processor"), tokens, store) if name.endswith("attn2.processor") else p
            for name, p in previous.items()})
        try:
            g = torch.Generator().manual_seed(0)
            for t in TIMESTEPS:
                noise = torch.randn(latents.shape, generator=g)
                noisy = pipe.scheduler.add_noise(latents, noise, torch.tensor([t]))
                pipe.unet(noisy, t, encoder_hidden_states=text)
        finally:
            pipe.unet.set_attn_processor(previous)

    h, w = latents.shape[-2:]
    truth = [cv2.resize(object_region(images[i]).astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) > 0.5
             for i in keep]
    scores = {}
    for name, calls in store.items():
        ratios = []
        for maps in calls:  # one UNet call: (images, pixels)
            side = int(round(np.sqrt(maps.shape[1] * w / h))), int(round(np.sqrt(maps.shape[1] * h / w)))
            for m, t in zip(maps, truth):
                up = cv2.resize(m.reshape(side[1], side[0]), (w, h), interpolation=cv2.INTER_LINEAR)
                if t.any() and (~t).any():
                    ratios.append(up[t].mean() / max(up[~t].mean(), 1e-8))
        scores[name] = float(np.mean(ratios))
    return scores


def choose(scores: dict[str, float]) -> list[str]:
    """Layers at or above MIN_SCORE; the best one alone if none is (none without scores)."""
    chosen = [n for n, s in scores.items() if s >= MIN_SCORE]
    return chosen or ([max(scores, key=scores.get)] if scores else [])


def main(argv: list[str] | None = None) -> list[str]:
    p = OneLineParser(prog="python -m t2vz_desktop.demo_model.mask_layers", description=__doc__.split("\n\n")[0])
    p.add_argument("model", type=model_folder, nargs="?", default=str(demo_model_dir()),
                   help="model folder (default: the built-in demo model)")
    p.add_argument("--seeds", type=number(int, 1), default=1, help="images per evaluation scene (40 scenes)")
    p.add_argument("--threads", type=number(int, 1), default=2)
    p.add_argument("--write", action="store_true", help="write the chosen layers into the model's t2vz.json")
    a = p.parse_args(argv)
    if a.write and not (a.model / "t2vz.json").is_file():
        p.error(f"--write: {a.model} has no t2vz.json to write the layers into (a demo model's settings file)")

    import torch

    from .evaluate import checked_pipeline

    torch.set_num_threads(a.threads)
    pipe = checked_pipeline(a.model, p)
    pipe.set_progress_bar_config(disable=True)
    scores = layer_scores(pipe, a.seeds)
    if not scores:
        raise SystemExit("mask_layers: none of the sampled images shows an object to measure against")
    chosen = choose(scores)
    print("attention to the subject words inside the drawn object / outside, per cross-attention layer:")
    for name, s in scores.items():
        print(f"  {s:5.2f}  {name}{'  <- subject layer' if name in chosen else ''}")
    if a.write:
        update_json(a.model / "t2vz.json", subject_layers=chosen)
        if (a.model / "training_info.json").is_file():
            update_json(a.model / "training_info.json", subject_layer_scores=scores)
            from .card import write_model_card

            write_model_card(a.model)
        print(f"wrote subject_layers to {a.model / 't2vz.json'}")
    return chosen


def update_json(path: Path, **values) -> None:
    """Set keys of a JSON object file, atomically."""
    settings = json.loads(path.read_text())
    settings.update(values)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(settings, indent=2) + "\n")
    tmp.replace(path)


if __name__ == "__main__":
    main()
