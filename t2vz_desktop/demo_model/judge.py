"""Judge the demo model during training on stills it samples, and keep the best weights.

Five training trials (benchmarks/RESULTS.md, issue 22) showed that the figures a recipe change
aims at (the loss, one-step x0 predictions) do not foretell what the sampler draws over 20 steps:
two changes improved their one-step squares and lost squares in the videos. So the UNet phase
samples a fixed set of stills every ``judge_every`` steps, as the app samples frame 0 (the model's
recommended sampler, steps and guidance scale, from its EMA weights), reads them back with
``evaluate.analyse`` and keeps the EMA weights that drew most stills right.

The judged scenes are not the evaluation's (``evaluate.evaluation_scenes``) and the seed is not
its seed, so the 120-video evaluation that goes in the card stays a held-out measure of the
weights chosen here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from . import data
from .evaluate import analyse, evaluation_scenes, score, video_prompt
from .model import build_sample_scheduler

JUDGE_SEED = 77  # the evaluation's videos start at seed 1000
MAX_PER_SHAPE = 256  # 1,024 stills: about 3 minutes a judgement on 2 cores


@dataclass
class Judgement:
    """What the EMA weights drew at one UNet step. Accuracies are fractions in [0, 1]."""

    step: int
    all: float  # stills whose colour, background and shape were all read right
    colour: float
    background: float
    shape: dict[str, float]  # per shape word
    seconds: float  # time the judging took

    def as_dict(self) -> dict:
        return {"step": self.step, "all": round(self.all, 4), "colour": round(self.colour, 4),
                "background": round(self.background, 4), "shape": {k: round(v, 4) for k, v in self.shape.items()},
                "seconds": round(self.seconds, 1)}


def judge_scenes(per_shape: int) -> list[data.Scene]:
    """``per_shape`` scenes of each shape, none of them an evaluation scene: colour pairs taken
    with a stride through every (object, background) pair, sizes and positions in turn, so a
    small set spreads over every colour. ValueError above MAX_PER_SHAPE."""
    if not 1 <= per_shape <= MAX_PER_SHAPE:
        raise ValueError(f"stills per shape must be 1 to {MAX_PER_SHAPE} (got {per_shape})")
    held_out = set(evaluation_scenes())
    pairs = [(c, b) for c in data.COLOURS for b in data.COLOURS if c != b]
    sizes, positions = len(data.SIZES), len(data.POSITIONS)
    scenes: list[data.Scene] = []
    for k, shape in enumerate(data.SHAPES):
        chosen: list[data.Scene] = []
        # i = len(pairs) * b + r visits every (pair, size, position) once: the pair follows r, and
        # block b moves size and position on by b % 2 and b // 2.
        for i in range(len(pairs) * sizes * positions):
            b = i // len(pairs)
            colour, background = pairs[(11 * i + 23 * k) % len(pairs)]
            scene = data.Scene(shape, colour, background, data.SIZES[(i + b) % sizes],
                               data.POSITIONS[(i + k + b // sizes) % positions])
            if scene not in held_out:
                chosen.append(scene)
                if len(chosen) == per_shape:
                    break
        scenes += chosen
    return scenes


class StillJudge:
    """Samples ``judge_scenes(per_shape)`` with the given UNet and text encoder and scores them.

    vae, tokenizer: the model's (fixed during the UNet phase); schedule: a key of model.SCHEDULES;
    sampler/steps/guidance: the model's recommended sampling (train.DEFAULTS)."""

    def __init__(self, vae, tokenizer, schedule: str, per_shape: int, sampler: str, steps: int, guidance: float):
        from ..engine.models import make_scheduler

        self.vae, self.tokenizer = vae, tokenizer
        self.scheduler = make_scheduler(sampler, build_sample_scheduler(schedule).config)
        self.scenes = judge_scenes(per_shape)
        self.steps, self.guidance = steps, guidance

    @torch.no_grad()
    def __call__(self, unet, text_encoder, step: int) -> Judgement:
        from diffusers import StableDiffusionPipeline

        started = time.monotonic()
        pipe = StableDiffusionPipeline(
            vae=self.vae, text_encoder=text_encoder, tokenizer=self.tokenizer, unet=unet, scheduler=self.scheduler,
            safety_checker=None, feature_extractor=None, requires_safety_checker=False,
        )
        pipe.set_progress_bar_config(disable=True)
        images = pipe([video_prompt(s) for s in self.scenes], num_inference_steps=self.steps,
                      guidance_scale=self.guidance, height=data.IMAGE_SIZE, width=data.IMAGE_SIZE,
                      generator=torch.Generator().manual_seed(JUDGE_SEED), output_type="np").images
        readings = [analyse((im * 255).round().clip(0, 255).astype(np.uint8)) for im in images]
        result = score(readings, self.scenes)
        overall, per_name = result["overall"], result["per_name"]
        return Judgement(step=step, all=overall["all"], colour=overall["colour"], background=overall["background"],
                         shape={s: per_name[s]["shape"] for s in data.SHAPES}, seconds=time.monotonic() - started)


def rank(judgement: Judgement) -> tuple[float, float]:
    """Stills right, then the mean of the shapes' accuracies (the issue's weakest figure), rounded
    so that equal accuracies summed in another order still tie (and the later step wins)."""
    return round(judgement.all, 9), round(mean_shape(judgement), 9)


def mean_shape(judgement: Judgement) -> float:
    return float(np.mean(list(judgement.shape.values())))


class Judging:
    """Judgements every ``every`` UNet steps and the EMA weights of the best one (ties go to the
    later step, which has trained longer); a win costs one copy of the weights."""

    def __init__(self, judge: StillJudge, every: int):
        self.judge, self.every = judge, every
        self.judgements: list[Judgement] = []
        self.best: Judgement | None = None
        self.best_weights: list[torch.Tensor] | None = None

    @property
    def last_step(self) -> int | None:
        return self.judgements[-1].step if self.judgements else None

    def run(self, step: int, unet, text_encoder, weights: list[torch.Tensor]) -> Judgement:
        """Judge ``unet``/``text_encoder`` (holding ``weights``, the EMA shadow) at ``step``."""
        judgement = self.judge(unet, text_encoder, step)
        self.judgements.append(judgement)
        if self.best is None or rank(judgement) >= rank(self.best):
            self.best = judgement
            self.best_weights = [w.detach().clone() for w in weights]
        return judgement

    def summary(self) -> dict:
        """For training_info.json: what was judged, each judgement, and the step whose weights were kept."""
        return {"every": self.every, "stills": len(self.judge.scenes), "seed": JUDGE_SEED,
                "steps": self.judge.steps, "guidance": self.judge.guidance,
                "chosen_step": self.best.step if self.best else None,
                "judgements": [j.as_dict() for j in self.judgements]}
