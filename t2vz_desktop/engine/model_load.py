"""Loading a diffusers model folder so that weights which do not fit are said, not used.

diffusers leaves a tensor its file lacks on the meta device (the job then failed on "Cannot copy
out of meta tensor", exit 1), and transformers fills one with random numbers and says so only in
a log line (a text encoder given the VAE's weights made a wrong video with exit 0). Here the text
encoder is loaded with transformers' own loading report, and every network is checked for
tensors the file did not give before the pipeline is used.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from .model_files import article
from .model_settings import ModelError, json_object
from .request import first_line

NETWORKS = ("unet", "vae", "text_encoder", "text_encoder_2")  # the last: SDXL's only


def part_variant(part: Path, variant: str | None) -> str | None:
    """`variant` where this part holds weights of that variant, else None (plain weights)."""
    return variant if variant and any(part.glob(f"*.{variant}.*")) else None


def load_text_encoder(folder: Path, dtype: torch.dtype, variant: str | None, name: str = "text_encoder"):
    """The text encoder `name` (SDXL's second: "text_encoder_2") of the class model_index.json
    names, refused (ModelError) where its weights lack tensors it needs or hold them at other
    sizes than its config.json says."""
    import transformers

    kind = json_object(folder / "model_index.json", "the pipeline's parts")[name][1]
    cls = getattr(transformers, kind, None)
    if cls is None:
        raise ModelError(f"{folder / 'model_index.json'} names the {name} {article(kind)}, which transformers "
                         "does not have")
    part = folder / name
    model, info = cls.from_pretrained(part, local_files_only=True, variant=part_variant(part, variant), dtype=dtype,
                                      output_loading_info=True, ignore_mismatched_sizes=True)
    problem = loading_problem(info)
    if problem:
        raise ModelError(f"the {name} weights in {part} {problem}")
    return model


def loading_problem(info: dict) -> str | None:
    """What transformers' loading report (`output_loading_info=True`, with
    ignore_mismatched_sizes=True so that it reports sizes instead of raising) says is wrong with
    the weights, worded to follow "the weights in PLACE", or None."""
    if info.get("mismatched_keys"):
        name, found, wanted = next(iter(info["mismatched_keys"]))
        return (f"do not fit its config.json: {name} is {tuple(found)} in the file and {tuple(wanted)} in the model "
                "it describes")
    missing = sorted(info.get("missing_keys", ()))
    if missing:
        return f"lack {len(missing)} of its tensors (e.g. {missing[0]}): they are another model's, or cut short"
    return None


def check_loaded(pipe, where: Path | str) -> None:
    """ModelError where a network kept tensors its weights file did not give (diffusers leaves
    them on the meta device)."""
    for name in NETWORKS:
        if getattr(pipe, name, None) is None:  # SD has no second text encoder
            continue
        params = list(getattr(pipe, name).named_parameters())
        empty = [n for n, p in params if p.is_meta]
        if empty:
            raise ModelError(f"the {name} weights in {where} lack {len(empty)} of its {len(params)} tensors "
                             f"(e.g. {empty[0]}): they are another model's, or cut short")


def load_message(e: BaseException) -> str:
    """A load error in one line, in terms a user can act on: diffusers' size mismatch ends in
    advice for its own API (pass low_cpu_mem_usage=False and ignore_mismatched_sizes=True)."""
    mismatch = SIZE_MISMATCH.search(" ".join(str(e).split()))
    if mismatch:
        name, wanted, found = mismatch.groups()
        return (f"weights of another size than a part's config.json says: {name} is {size_text(found)} in the file "
                f"and {size_text(wanted)} in the config")
    return first_line(e)


# diffusers' wording (models/model_loading_utils.py, load_model_dict_into_meta)
SIZE_MISMATCH = re.compile(r"because (\S+) expected shape (.+?), but got (.+?)\. If you want")


def size_text(shape: str) -> str:
    """"torch.Size([64, 4, 3, 3])" -> "(64, 4, 3, 3)"."""
    inner = re.search(r"\[(.*?)\]", shape)
    return f"({inner.group(1)})" if inner else shape
