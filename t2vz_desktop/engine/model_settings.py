"""A model's own settings file, t2vz.json, and where the demo model lives: read without torch,
so the app's panel can ask a model's sampler while it opens (engine/models.py re-exports these)."""

from __future__ import annotations

import re
from pathlib import Path

from .paths import resources_dir
from .request import PICKLE_SUFFIXES, SD_DEFAULTS


class ModelError(Exception):
    """A model could not be found or loaded; the message is for the user."""


HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")  # "org/name": a Hugging Face hub model id


def is_sdxl_unet(config) -> bool:
    """Whether a UNet configuration (a dict, or a loaded UNet's config) is SDXL's: pooled text and
    size ids added to the timestep embedding ("text_time")."""
    return config.get("addition_embed_type") == "text_time"


def demo_model_dir() -> Path:
    return resources_dir() / "models" / "demo"


MODEL_SETTINGS = ("steps", "guidance", "scheduler", "width", "height", "fps", "t_restart", "t_warp")  # request fields


def read_defaults(folder: Path | None) -> dict:
    """A model's own settings, t2vz.json beside its weights ({} when it has none): the request
    fields MODEL_SETTINGS, checked by the recipe's own kinds and ranges, and `subject_layers`
    (attention layer names for background smoothing). A file anyone may have written, so anything
    else is a ModelError, one line naming the file and the key (a misspelt key is not ignored)."""
    from .request import FieldError, GenerationRequest, RequestError, from_data, in_file_terms

    path = None if folder is None else folder / "t2vz.json"
    if path is None or not path.exists():
        return {}
    data = json_object(path, "the model's settings")
    unknown = sorted(set(data) - {*MODEL_SETTINGS, "subject_layers"})
    if unknown:
        raise ModelError(f"{path}: '{unknown[0]}' is not a model setting (known: "
                         f"{', '.join(MODEL_SETTINGS)}, subject_layers)")
    empty = [k for k in MODEL_SETTINGS if k in data and data[k] is None]
    if empty:  # a request field's None means "the model's": the model's own file must say it
        kind = "a sampler name" if empty[0] == "scheduler" else "a number"
        raise ModelError(f"{path}: {empty[0]} must be {kind} (got null); leave the key out for the default")
    layers = data.get("subject_layers")
    if layers is not None and not (isinstance(layers, list) and all(isinstance(n, str) and n for n in layers)):
        raise ModelError(f"{path}: subject_layers must be a list of attention layer names")
    if layers:
        _check_subject_layers(path, layers, folder / "unet" / "config.json")
    try:  # a placeholder prompt makes it a request the engine's own rules can check
        from_data(GenerationRequest, {"prompts": ["x"], **{k: data[k] for k in MODEL_SETTINGS if k in data}}).validate()
    except (FieldError, RequestError) as e:
        raise ModelError(f"{path}: {in_file_terms(str(e))}") from None
    return data


def json_object(path: Path, what: str) -> dict:
    """The JSON object in `path`, a file anyone may have written; ModelError, one line naming the
    file, for one that cannot be read, is not JSON or holds something else. `what`: what it holds."""
    from .jsonfile import JsonFileError, read_json

    if path.exists() and not path.is_file():  # a pipe would block the reader (the app's panel reads these)
        raise ModelError(f"{path} is not a regular file")
    try:
        data = read_json(path)
    except JsonFileError as e:
        raise ModelError(str(e)) from None
    if not isinstance(data, dict):
        raise ModelError(f"{path} must hold a JSON object ({what})")
    return data


def cross_attention_layers(unet_config: dict) -> list[str]:
    """The names of a UNet2DConditionModel's cross-attention layers (`...attn2`), derived from its
    config.json as diffusers' UNet2DConditionModel builds its blocks (unets/unet_2d_condition.py:
    a CrossAttn block holds layers_per_block attentions down, one more up, one in the middle unless
    mid_block_type is null; each of transformer_layers_per_block transformer blocks), so a model's
    file can be checked without loading the UNet. KeyError, TypeError, IndexError or ValueError for
    a config that is not such a UNet's (the load then says what is wrong with it)."""
    for key in ("down_block_types", "up_block_types"):  # a string would be read a letter at a time
        kinds = unet_config[key]
        if not isinstance(kinds, (list, tuple)) or not all(isinstance(kind, str) for kind in kinds):
            raise TypeError(f"{key} must be a list of block names")
    down = list(unet_config["down_block_types"])
    per_block = unet_config["layers_per_block"]
    per_block = list(per_block) if isinstance(per_block, (list, tuple)) else [per_block] * len(down)
    depth = unet_config.get("transformer_layers_per_block", 1)
    depth = list(depth) if isinstance(depth, (list, tuple)) else [depth] * len(down)
    up_depth = unet_config.get("reverse_transformer_layers_per_block") or depth[::-1]
    if len(per_block) != len(down) or len(depth) != len(down):
        raise ValueError("one layers_per_block and transformer_layers_per_block per down block")

    def blocks(prefix: str, attentions: int, transformers) -> list[str]:
        transformers = transformers if isinstance(transformers, (list, tuple)) else [transformers] * attentions
        return [f"{prefix}.attentions.{j}.transformer_blocks.{k}.attn2"
                for j in range(attentions) for k in range(transformers[j])]

    # Only SD's own block kinds: the Simple* ones hold attention modules of another layout.
    names = [n for i, kind in enumerate(down) if kind == "CrossAttnDownBlock2D"
             for n in blocks(f"down_blocks.{i}", per_block[i], depth[i])]
    if unet_config.get("mid_block_type", "UNetMidBlock2DCrossAttn") == "UNetMidBlock2DCrossAttn":
        names += blocks("mid_block", 1, depth[-1])
    names += [n for i, kind in enumerate(unet_config["up_block_types"]) if kind == "CrossAttnUpBlock2D"
              for n in blocks(f"up_blocks.{i}", per_block[::-1][i] + 1, up_depth[i])]
    return names


def _check_subject_layers(path: Path, layers: list[str], unet_config: Path) -> None:
    """Each of t2vz.json's subject_layers must begin one of the UNet's cross-attention layers'
    processor names, as background smoothing reads them (`...attn2.processor`), checked before the
    load: that option would fail after it, and without it a misspelt name went unnoticed."""
    try:
        known = cross_attention_layers(json_object(unet_config, "the UNet's configuration"))
    except (ModelError, KeyError, TypeError, IndexError, ValueError):  # the load reports a broken config
        return
    for name in layers:
        if not any(f"{n}.processor".startswith(name) for n in known):
            raise ModelError(f"{path}: subject_layers: '{name}' is not one of the UNet's cross-attention layers "
                             f"(e.g. {known[0] if known else 'none: this UNet has none'})")


def settings_folder(name: str | None) -> Path | None:
    """The folder whose t2vz.json holds the settings of the model named `name` (a model request's
    --model), found without any check: a demo or folder model's, else None (hub ids and single
    files have none; a name that is no folder too)."""
    folder = demo_model_dir() if name == "demo" else Path(name).expanduser() if name else None
    return folder if folder is not None and folder.is_dir() else None


# Few-step models' own settings where they carry no t2vz.json: diffusers' LatentConsistencyModelPipeline
# defaults (4 steps, guidance 8.5, which a guidance-distilled UNet takes as its embedding); a TCD
# or LCM-scheduled model without that embedding (LoRA-distilled) runs unguided, as its cards advise.
FEW_STEP_SAMPLERS = {"LCMScheduler": "lcm", "TCDScheduler": "tcd"}


def few_step_defaults(scheduler_class: str | None, guidance_distilled: bool) -> dict:
    """The request defaults of a model whose scheduler configuration is a few-step sampler's, or
    whose UNet embeds the guidance scale (time_cond_proj_dim: an LCM), else {}."""
    sampler = FEW_STEP_SAMPLERS.get(scheduler_class or "", "lcm" if guidance_distilled else None)
    if sampler is None:
        return {}
    return {"scheduler": sampler, "steps": 4, "guidance": 8.5 if guidance_distilled else 1.0}


def folder_few_step_defaults(folder: Path | None) -> dict:
    """:func:`few_step_defaults` read from a model folder's scheduler and UNet configurations."""
    if folder is None:
        return {}
    try:
        scheduler = json_object(folder / "scheduler" / "scheduler_config.json", "the scheduler's configuration")
        unet = json_object(folder / "unet" / "config.json", "the UNet's configuration")
    except ModelError:  # the load says what is wrong
        return {}
    return few_step_defaults(scheduler.get("_class_name"), unet.get("time_cond_proj_dim") is not None)


def model_defaults(name: str | None) -> dict:
    """A model's request defaults before it loads: a demo or folder model's t2vz.json over what
    its (or a cached hub model's) configurations say of a few-step model; load_model reads the
    same from the loaded parts."""
    return {**folder_few_step_defaults(config_folder(name)), **read_defaults(settings_folder(name))}


def own_sampler(name: str | None) -> str:
    """The sampler a model generates with when none is asked (--scheduler auto): the one its
    t2vz.json names, else Stable Diffusion's (DDIM). Reads a demo or folder model's file, as
    load_model does (hub ids and single files have none); a model not found or a file that is
    not readable counts as Stable Diffusion's, since the job itself reports those."""
    try:
        return model_defaults(name).get("scheduler", SD_DEFAULTS["scheduler"])
    except ModelError:
        return SD_DEFAULTS["scheduler"]


def config_folder(name: str | None) -> Path | None:
    """Where a model's configurations are, found without loading: a demo or folder model's folder,
    or a cached hub model's snapshot; None for a single file or a model not found."""
    folder = settings_folder(name)
    if folder is not None or not name or not HUB_ID.fullmatch(name) or Path(name).expanduser().exists():
        return folder
    if Path(name).suffix.lower() in PICKLE_SUFFIXES | {".safetensors"}:
        return None
    from huggingface_hub import try_to_load_from_cache

    try:
        index = try_to_load_from_cache(name, "model_index.json")  # "org/name-1.0": a hub id, not a suffix
    except ValueError:  # huggingface_hub's stricter rules for an id (HFValidationError)
        return None
    return Path(index).parent if isinstance(index, str) else None


def own_size(name: str | None) -> int:
    """The frame side a model draws when no size is asked (LoadedModel.native_size), read from a
    demo or folder model's, or a cached hub model's, UNet and VAE configurations without loading
    (64 for the demo, 512 SD 1.x, 768 SD 2.x-v, 1024 SDXL); 512 where they cannot be read here
    (a single file, a model not found: the job itself reports those)."""
    folder = config_folder(name)
    try:
        unet = json_object(folder / "unet" / "config.json", "the UNet's configuration") if folder else {}
        vae = json_object(folder / "vae" / "config.json", "the VAE's configuration") if folder else {}
        size, levels = unet.get("sample_size"), vae.get("block_out_channels")
        if isinstance(size, int) and isinstance(levels, list) and levels:
            return size * 2 ** (len(levels) - 1)
    except ModelError:
        pass
    return 512

