"""Prompts -> text embeddings, with the warnings a user needs: words the model's tokenizer does not
know (a word-level tokenizer like the demo model's maps them to one 'unknown' token) and prompts
cut at the tokenizer's length limit."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace

import torch

from .chunks import Conditioning
from .model_settings import is_sdxl_unet


def prompt_warnings(tokenizer, prompt: str) -> list[str]:
    warnings = []
    ids = tokenizer(prompt, truncation=False, add_special_tokens=True)["input_ids"]
    limit = tokenizer.model_max_length
    if len(ids) > limit:
        kept = tokenizer.decode(ids[1 : limit - 1])
        warnings.append(f"prompt is longer than the model reads ({len(ids)} > {limit} tokens); it is cut after: '{kept}'")
    unk = tokenizer.unk_token_id
    specials = {tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id}
    if unk is not None and unk not in specials and unk in ids:
        unknown = [w for w in prompt.split() if unk in tokenizer(w, add_special_tokens=False)["input_ids"]]
        warnings.append(f"the model does not know the word(s) {', '.join(repr(w) for w in unknown)}; they are ignored")
    return warnings


class EmbeddingCache(OrderedDict):
    """Text embeddings of recent (prompt, negative prompt) pairs for one loaded model, so that a
    job that changes only the seed or the motion does not run the text encoder again; the least
    recently used pair goes first beyond `capacity`."""

    def __init__(self, capacity: int = 64):
        super().__init__()
        self.capacity = capacity

    def encoded(self, key: tuple, encode):
        if key in self:
            self.move_to_end(key)
            return self[key]
        self[key] = value = encode()
        while len(self) > self.capacity:
            self.popitem(last=False)
        return value


@torch.no_grad()
def encode_prompts(
    pipe, prompts: list[str], negative: str, guidance: float, device: torch.device,
    image_guidance: float | None = None, cache: EmbeddingCache | None = None,
) -> Conditioning:
    """One embedding per prompt, and one for the negative prompt when guidance is on (> 1, or
    always for Instruct-Pix2Pix, whose image branches need it). With `cache`, a pair encoded
    before for this model is not encoded again (the same tensors: encoding is deterministic)."""
    guided = guidance > 1.0 or image_guidance is not None
    cache = EmbeddingCache(0) if cache is None else cache
    xl = is_sdxl(pipe)

    def encode(p: str) -> tuple:
        if not xl:
            return pipe.encode_prompt([p], device, 1, guided, negative_prompt=[negative] if guided else None)
        # SDXL (Podell et al. 2023, section 2.1): both encoders' penultimate states side by side,
        # and the second's pooled output. An empty negative prompt is zeros where the model says
        # so (force_zeros_for_empty_prompt), as diffusers' pipeline gives it.
        return pipe.encode_prompt([p], device=device, num_images_per_prompt=1, do_classifier_free_guidance=guided,
                                  negative_prompt=[negative] if guided and negative else None)

    def pair(p: str):
        # One prompt per text-encoder call: its rounding depends on the batch size, and a video
        # taken out of a batch must be re-made from its own recipe bit for bit.
        key = (p, negative if guided else None, str(device), str(pipe.text_encoder.dtype))
        return cache.encoded(key, lambda: encode(p))

    pairs = [pair(p) for p in prompts]

    def column(i: int) -> torch.Tensor:
        return torch.cat([pr[i] for pr in pairs])

    return Conditioning(cond=column(0), uncond=column(1) if guided else None, guidance=guidance,
                        image_guidance=image_guidance,
                        pooled=column(2) if xl else None, pooled_uncond=column(3) if xl and guided else None)


def is_sdxl(pipe) -> bool:
    """Whether the pipeline's UNet takes SDXL's added conditioning (pooled text and size ids)."""
    return is_sdxl_unet(pipe.unet.config)


def guidance_distilled(pipe) -> bool:
    """Whether the UNet takes the guidance scale as an embedding (time_cond_proj_dim: an LCM
    distilled with guidance, Luo et al. 2023, section 4.1), so that one branch does what
    classifier-free guidance's two do elsewhere."""
    return getattr(pipe.unet.config, "time_cond_proj_dim", None) is not None


def guidance_embedding(pipe, guidance: float, device) -> torch.Tensor | None:
    """The guidance scale as a guidance-distilled UNet's timestep_cond, as diffusers'
    LatentConsistencyModelPipeline makes it (w = guidance - 1: the Imagen form of the scale,
    sinusoid features of 1000 w); None for other models.  # (time_cond_proj_dim,)"""
    if not guidance_distilled(pipe):
        return None
    w = torch.tensor([guidance - 1.0])
    embedding = pipe.get_guidance_scale_embedding(w, embedding_dim=pipe.unet.config.time_cond_proj_dim)
    return embedding[0].to(device, pipe.unet.dtype)


def branch_guidance(pipe, guidance: float) -> float:
    """The classifier-free guidance the loop runs: none (one branch) for a guidance-distilled
    model, whose guidance is its embedding."""
    return 1.0 if guidance_distilled(pipe) else guidance


def size_ids(pipe, height: int, width: int, device) -> torch.Tensor | None:
    """SDXL's micro-conditioning (Podell et al. 2023, section 2.2): original size, crop's top
    left corner and target size, as diffusers' pipeline sets them by default (the video's own
    size, no crop); None for a model without it.  # (6,) float32"""
    if not is_sdxl(pipe):
        return None
    return torch.tensor([height, width, 0, 0, height, width], dtype=torch.float32, device=device)


def repeat_per_video(text: Conditioning, videos_per_prompt: int) -> Conditioning:
    """Videos are laid out prompt by prompt: video = prompt * videos_per_prompt + repeat."""
    def rep(x):
        return None if x is None else x.repeat_interleave(videos_per_prompt, dim=0)

    # replace(), not a new Conditioning: every other field (Instruct-Pix2Pix's image guidance)
    # must come through unchanged.
    return replace(text, cond=rep(text.cond), uncond=rep(text.uncond), pooled=rep(text.pooled),
                   pooled_uncond=rep(text.pooled_uncond))


def _slerp(a: torch.Tensor, b: torch.Tensor, u: float) -> torch.Tensor:
    """Spherical interpolation of each token vector, keeping its length in between."""
    na, nb = a.norm(dim=-1, keepdim=True), b.norm(dim=-1, keepdim=True)
    ua, ub = a / na.clamp(min=1e-8), b / nb.clamp(min=1e-8)
    angle = torch.acos((ua * ub).sum(-1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))
    sin = torch.sin(angle)
    direction = (torch.sin((1 - u) * angle) * ua + torch.sin(u * angle) * ub) / sin.clamp(min=1e-8)
    direction = torch.where(sin < 1e-4, (1 - u) * ua + u * ub, direction)
    return direction * ((1 - u) * na + u * nb)


def travel_embeddings(keyed: torch.Tensor, keys: list[int], frames: int, blend: str) -> torch.Tensor:
    """Per-frame embeddings between keyed prompts: the key's own at a key, moving toward the next
    key's in between, the last key's after it. keyed: (keys, tokens, dim) -> (frames, tokens, dim)"""
    out = []
    for k in range(frames):
        j = max(i for i, key in enumerate(keys) if key <= k)
        if j + 1 == len(keys) or k == keys[j]:
            out.append(keyed[j])
            continue
        u = (k - keys[j]) / (keys[j + 1] - keys[j])
        a, b = keyed[j], keyed[j + 1]
        out.append(_slerp(a, b, u) if blend == "slerp" else (1 - u) * a + u * b)
    return torch.stack(out)
