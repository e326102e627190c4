"""CLIP frame consistency and CLIP text score, with a CLIP model that is already on this machine.

- frame consistency: mean cosine similarity of consecutive frames' CLIP image embeddings;
- text score: 100 x mean cosine similarity of each frame's image embedding and the prompt's
  text embedding (the "CLIP score" of the Text2Video-Zero paper; their absolute values depend
  on the CLIP model, so compare figures made with the same one).

`ClipScorer.load(name)` takes a hub id that is in the local Hugging Face cache
(e.g. openai/clip-vit-large-patch14) or a folder saved with `CLIPModel.save_pretrained`, with its
tokenizer and `preprocessor_config.json`. Nothing is downloaded. Images are prepared exactly as
CLIP's image processor does (shortest side resized bicubically to `size`, centre crop, scale to
[0, 1], normalise), with OpenCV, so no PIL or torchvision is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


class ClipError(ValueError):
    """The CLIP model could not be found or loaded; the message is for the user."""


@dataclass(frozen=True)
class ImagePrep:
    resize: int  # shortest side after resizing
    crop: tuple[int, int]  # (h, w)
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


def _prep_from(config: dict, image_size: int) -> ImagePrep:
    size = config.get("size", image_size)
    if isinstance(size, dict):
        size = size.get("shortest_edge") or size.get("height") or image_size
    crop = config.get("crop_size", image_size)
    if isinstance(crop, dict):
        crop = (crop.get("height", image_size), crop.get("width", image_size))
    else:
        crop = (crop, crop)
    return ImagePrep(int(size), (int(crop[0]), int(crop[1])), tuple(config.get("image_mean", OPENAI_MEAN)),
                     tuple(config.get("image_std", OPENAI_STD)))


def _check_prompt_length(length, positions) -> None:
    """Without tokenizer_config.json a CLIP tokenizer pads to 10^30 tokens ("int too big to convert")."""
    if isinstance(length, bool) or not isinstance(length, int) or not 0 < length <= positions:
        raise ValueError(f"its tokenizer's model_max_length is {length!r}, and its text model takes up to "
                         f"{positions} tokens (is tokenizer_config.json missing?)")


def prepare_images(frames: list[np.ndarray], prep: ImagePrep) -> torch.Tensor:
    """uint8 RGB frames -> CLIP pixel values.  # (n, 3, crop_h, crop_w) float32"""
    out = []
    ch, cw = prep.crop
    for f in frames:
        h, w = f.shape[:2]
        s = prep.resize / min(h, w)
        nh, nw = max(ch, round(h * s)), max(cw, round(w * s))
        resized = cv2.resize(f, (nw, nh), interpolation=cv2.INTER_CUBIC)
        top, left = (nh - ch) // 2, (nw - cw) // 2
        out.append(resized[top : top + ch, left : left + cw])
    x = torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(prep.mean).view(1, 3, 1, 1)
    std = torch.tensor(prep.std).view(1, 3, 1, 1)
    return (x - mean) / std


class ClipScorer:
    def __init__(self, model, tokenizer, prep: ImagePrep, name: str, device: torch.device, batch: int = 16):
        self.model = model
        self.tokenizer = tokenizer
        self.prep = prep
        self.name = name
        self.device = device
        self.batch = batch

    @classmethod
    def load(cls, name: str, device: str | torch.device = "cpu") -> "ClipScorer":
        from transformers import AutoTokenizer, CLIPModel
        from transformers.utils import cached_file

        from ..engine.jsonfile import read_json
        from ..engine.model_load import loading_problem
        from ..engine.models import quiet_libraries
        from ..engine.request import first_line

        quiet_libraries()
        if Path(name).expanduser().is_file():
            raise ClipError(f"--clip {name} is a file: give the folder a CLIP model was saved in "
                            "(CLIPModel.save_pretrained) or a hub id in the local Hugging Face cache")
        try:
            model, info = CLIPModel.from_pretrained(name, local_files_only=True, output_loading_info=True,
                                                    ignore_mismatched_sizes=True)
            problem = loading_problem(info)
            if problem:
                raise ValueError(f"its weights {problem}")
            tokenizer = AutoTokenizer.from_pretrained(name, local_files_only=True)
            _check_prompt_length(tokenizer.model_max_length, model.config.text_config.max_position_embeddings)
            config_file = cached_file(name, "preprocessor_config.json", local_files_only=True,
                                      _raise_exceptions_for_missing_entries=False)
            config = read_json(Path(config_file)) if config_file else {}
            if not isinstance(config, dict):
                raise ValueError(f"{config_file} must hold a JSON object")
            prep = _prep_from(config, int(model.config.vision_config.image_size))
        # Files anyone may have written: a value of the wrong kind fails anywhere in the load.
        except Exception as e:  # noqa: BLE001
            found = "is not a CLIP model this tool can use" if Path(name).expanduser().exists() else \
                "is not a CLIP model on this machine"
            raise ClipError(f"--clip '{name}' {found} ({first_line(e)}): pass a folder saved with "
                            "CLIPModel.save_pretrained or a hub id in the local Hugging Face cache") from e
        device = torch.device(device)
        return cls(model.to(device).eval(), tokenizer, prep, name, device)

    @torch.no_grad()
    def image_embeddings(self, frames: list[np.ndarray]) -> torch.Tensor:
        """Unit-length image embeddings.  # (n, projection_dim) float32"""
        pixels = prepare_images(frames, self.prep).to(self.device, self.model.dtype)
        pooled = self.model.vision_model(pixel_values=pixels).pooler_output
        e = self.model.visual_projection(pooled).float()
        return e / e.norm(dim=-1, keepdim=True)

    @torch.no_grad()
    def text_embedding(self, prompt: str) -> torch.Tensor:
        """Unit-length text embedding.  # (projection_dim,) float32"""
        tokens = self.tokenizer([prompt], padding="max_length", truncation=True,
                                max_length=self.tokenizer.model_max_length, return_tensors="pt")
        pooled = self.model.text_model(input_ids=tokens["input_ids"].to(self.device),
                                       attention_mask=tokens["attention_mask"].to(self.device)).pooler_output
        e = self.model.text_projection(pooled).float()[0]
        return e / e.norm()

    def stream(self, prompt: str | None = None) -> "ClipStream":
        return ClipStream(self, prompt)


class ClipStream:
    """Frames in one at a time, embedded `batch` at a time; only the last embedding is kept."""

    def __init__(self, scorer: ClipScorer, prompt: str | None):
        self.scorer = scorer
        self.text = scorer.text_embedding(prompt) if prompt else None
        self.pending: list[np.ndarray] = []
        self.last: torch.Tensor | None = None
        self.consistency: list[float] = []  # per consecutive pair
        self.text_scores: list[float] = []  # per frame

    def add(self, frame: np.ndarray) -> None:
        self.pending.append(frame)
        if len(self.pending) >= self.scorer.batch:
            self._flush()

    def _flush(self) -> None:
        if not self.pending:
            return
        e = self.scorer.image_embeddings(self.pending).cpu()
        self.pending = []
        chain = e if self.last is None else torch.cat([self.last[None], e])
        self.consistency += (chain[1:] * chain[:-1]).sum(-1).tolist()
        if self.text is not None:
            self.text_scores += (100.0 * e @ self.text.cpu()).tolist()
        self.last = e[-1]

    def finish(self) -> tuple[list[float], list[float] | None]:
        self._flush()
        return self.consistency, (self.text_scores if self.text is not None else None)
