"""ControlNet-guided generation (ALGORITHM.md section 4): each frame is steered by its own
condition image (pose skeleton, edges, depth) from the source video.

The ControlNet runs on the same batch as the UNet, frame by frame; its self-attention gets the
same cross-frame treatment as the UNet's (the sampler installs it on both), and the residuals of
several ControlNets are summed, each with its own scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from .chunks import Denoiser
from .models import (
    DEMO_MODEL, HUB_ID, ModelError, demo_model_dir, first_line, is_sdxl_unet, locate_model, single_file_config,
)
from .model_files import has_weights, weights_variant_of
from .paths import resources_dir
from .request import DEFAULT_CONTROLNETS, INSTRUCT_MODEL, default_controlnet

@dataclass
class ControlInput:
    net: torch.nn.Module  # a diffusers ControlNetModel
    frames: torch.Tensor  # condition images, one per video frame, on the CPU  # (frames, H, W, 3) uint8
    scale: float = 1.0


def locate_controlnet(name: str) -> str:
    """What `name` is, found without loading: "folder", "file" (.safetensors), "folder's weights" (a
    diffusers folder's own weights file, read as that folder) or "hub cache".
    Raises ModelError naming what to choose instead, so a wrong ControlNet fails before any load."""
    path = Path(name).expanduser()
    if path.is_dir():
        config = _read_json(path / "config.json")
        if config is None:
            raise ModelError(f"'{name}' is not a ControlNet folder: it has no readable config.json")
        if config.get("_class_name") not in (None, "ControlNetModel"):
            raise ModelError(f"'{name}' holds a {config['_class_name']}, not a ControlNet")
        if not has_weights(path, "diffusion_pytorch_model"):  # diffusers' own message named a .bin
            raise ModelError(f"ControlNet folder '{name}' has no weights (diffusion_pytorch_model.safetensors): "
                             "it is incomplete; copy or download it again")
        _check_header(path, weights_variant_of(path))
        return "folder"
    if path.is_file():
        if path.suffix.lower() != ".safetensors":
            raise ModelError(f"{path.name}: ControlNet files must be .safetensors")
        folder = _folder_of_weights(path)
        if folder is not None:
            _check_header(folder, None, path)
        return "folder's weights" if folder is not None else "file"
    if not HUB_ID.fullmatch(name):
        raise ModelError(f"no ControlNet at '{name}': pass a folder, a .safetensors file or a cached hub id")
    from huggingface_hub import try_to_load_from_cache

    if not isinstance(try_to_load_from_cache(name, "config.json"), str):
        raise ModelError(f"ControlNet '{name}' is not in the local Hugging Face cache: fetch it with "
                         f"`t2vz models download {name}`, or pass --controlnet FOLDER or FILE")
    return "hub cache"


def _folder_of_weights(path: Path) -> Path | None:
    """The diffusers ControlNet folder whose weights file `path` is (diffusion_pytorch_model
    [.fp16].safetensors beside a ControlNet config.json), else None. Such a file is in diffusers'
    layout, not the SD 1.5 single-file layout: read alone with SD 1.5's configuration it failed
    with a raw shape error."""
    if not path.name.startswith("diffusion_pytorch_model."):
        return None
    config = _read_json(path.parent / "config.json")
    return path.parent if config is not None and config.get("_class_name") == "ControlNetModel" else None


def _check_header(folder: Path, variant: str | None, file: Path | None = None) -> None:
    """ModelError for a folder's .safetensors weights (or that `file` of it) whose header is damaged
    or whose data is cut short (a half-copied file): safetensors checks both from the header,
    without reading the data."""
    from safetensors import SafetensorError, safe_open

    file = file or folder / (f"diffusion_pytorch_model.{variant}.safetensors" if variant
                             else "diffusion_pytorch_model.safetensors")
    if not file.is_file():
        return  # sharded or .bin weights: the loader checks those
    try:
        with safe_open(str(file), "np"):
            pass
    except (OSError, SafetensorError) as e:
        raise ModelError(f"ControlNet weights {file} are damaged or incomplete ({first_line(e)}); copy or download "
                         "the folder again") from e


# What a ControlNet shares with its base model's UNet: its residuals are added block by block to
# the UNet's, and it reads the same text embeddings. (diffusers' ControlNetModel.from_unet copies
# exactly these from the UNet.)
FITTING_KEYS = {
    "cross_attention_dim": "text width (cross-attention)",
    "block_out_channels": "channels per block",
    "down_block_types": "block layout",
    "layers_per_block": "layers per block",
    "in_channels": "latent channels",
    "projection_class_embeddings_input_dim": "added conditioning width (SDXL's pooled text and size ids)",
}
# Keys whose absence (None) is a value of its own: a ControlNet without SDXL's added conditioning
# ran on an SDXL model and ignored it.
FITTING_EVEN_IF_ABSENT = {"addition_embed_type": "added conditioning (SDXL's 'text_time')"}


def controlnet_config(name: str, kind: str | None = None) -> dict | None:
    """A ControlNet's configuration, read without loading its weights (None: not readable here);
    `kind`: what locate_controlnet said of `name`, when the caller has asked it already."""
    kind = kind or locate_controlnet(name)
    if kind in ("folder", "folder's weights"):
        file = _net_folder(name, kind) / "config.json"
    elif kind == "file":
        return _file_config(Path(name).expanduser())
    else:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(name, "config.json")
        file = Path(found) if isinstance(found, str) else None
    return _read_json(file)


def _file_config(path: Path) -> dict:
    """What a ControlNet .safetensors file says of its shape, from its tensor names and shapes
    (the header only), not the SD 1.5 configuration it is loaded with; a key the file does not
    show is left out and not compared (LDM-format files name their condition embedding otherwise)."""
    from safetensors import SafetensorError, safe_open

    config = {}
    try:
        with safe_open(str(path), "np") as f:
            names = list(f.keys())
            text = next((k for k in names if k.endswith("attn2.to_k.weight")), None)
            if text is not None:
                config["cross_attention_dim"] = f.get_slice(text).get_shape()[1]
            # the latent's first convolution: conv_in (diffusers) or input_blocks.0.0 (LDM), not the
            # condition embedding's own conv_in, which takes the RGB condition image
            first = next((k for k in names if k == "conv_in.weight" or k.endswith("input_blocks.0.0.weight")), None)
            if first is not None:
                config["in_channels"] = f.get_slice(first).get_shape()[1]
                config["first_block_width"] = f.get_slice(first).get_shape()[0]
            embedding = [k for k in names if k.startswith("controlnet_cond_embedding.blocks.") and k.endswith(".weight")]
            if embedding:  # conv pairs, each halving the size: a factor 2 ** (len / 2)
                config["conditioning_embedding_out_channels"] = [0] * (len(embedding) // 2 + 1)
            # SDXL's added embedding, diffusers' or LDM's name for it
            added = next((k for k in names if k in ("add_embedding.linear_1.weight", "label_emb.0.0.weight")), None)
    except (OSError, ValueError, IndexError, SafetensorError) as e:  # a damaged header is its own error type
        raise ModelError(f"ControlNet file {path.name} is not a readable .safetensors file ({first_line(e)})") from e
    if added is not None:  # files load with SD 1.5's configuration (resources/configs/controlnet-sd15)
        raise ModelError(f"{path.name} is an SDXL ControlNet file; t2vz reads single-file ControlNets in SD 1.5's "
                         "layout only: pass the ControlNet's diffusers folder or its hub id (t2vz models download ID)")
    return config


def base_unet_config(model: str, model_config: str | None = None, allow_unsafe_pickle: bool = False) -> dict | None:
    """The UNet configuration of a base model, read without loading weights (None: not readable),
    with `vae_scale_factor` and `latent_channels` added from its VAE's configuration."""
    source = locate_model(model, allow_unsafe_pickle)
    if source.kind == "single file":
        folder = single_file_config(source.path, model_config, allow_unsafe_pickle)
        unet, vae = _read_json(folder / "unet" / "config.json"), _read_json(folder / "vae" / "config.json")
    elif source.path is not None:
        unet, vae = _read_json(source.path / "unet" / "config.json"), _read_json(source.path / "vae" / "config.json")
    else:
        from huggingface_hub import try_to_load_from_cache

        found = [try_to_load_from_cache(model, f"{part}/config.json") for part in ("unet", "vae")]
        unet, vae = (_read_json(Path(f) if isinstance(f, str) else None) for f in found)
    if unet is not None and vae is not None and isinstance(vae.get("block_out_channels"), list):
        unet["vae_scale_factor"] = 2 ** (len(vae["block_out_channels"]) - 1)
        unet["latent_channels"] = vae.get("latent_channels", 4)
    return unet


def check_edit_model(mode: str, model: str, net: str | None = None, model_config: str | None = None,
                     allow_unsafe_pickle: bool = False) -> None:
    """Refuse a base model that cannot run an edit mode, before anything loads (ModelError): pix2pix
    needs an Instruct-Pix2Pix UNet, which also takes the source frame's latent (twice the latent
    channels, engine/edit.py); a ControlNet mode needs a base its ControlNet fits (`net`, else the
    mode's default). One check for the app's Edit with... and its default model."""
    if mode != "pix2pix":
        check_controlnet_fits(net or mode_controlnet(mode, model, model_config, allow_unsafe_pickle), model,
                              model_config, allow_unsafe_pickle)
        return
    unet = base_unet_config(model, model_config, allow_unsafe_pickle)
    if unet is None or "latent_channels" not in unet:
        return  # the loader says what is wrong with the model
    if is_sdxl_unet(unet):
        raise ModelError(f"pix2pix runs Stable Diffusion 1.x Instruct-Pix2Pix models; '{model}' is an SDXL model: "
                         f"choose {INSTRUCT_MODEL} or a ControlNet mode")
    channels, needed = unet.get("in_channels"), 2 * unet["latent_channels"]
    if channels != needed:
        shown = "the built-in demo model" if model == DEMO_MODEL else f"'{model}'"
        raise ModelError(f"pix2pix needs an Instruct-Pix2Pix model; {shown} is a text-to-image model ({channels} "
                         f"UNet input channels, not {needed}): choose {INSTRUCT_MODEL} or a ControlNet mode")


# The ControlNets trained for the built-in demo model (demo_model/train_controlnet.py): folders
# inside its own, since a ControlNet fits only the UNet it was trained beside.
DEMO_CONTROLNETS = {"canny": "controlnet-canny"}


def demo_controlnet(mode: str) -> str:
    """The folder of the demo model's own ControlNet for `mode`; ModelError where it has none
    (pose, depth) or where the bundle lacks it."""
    if mode not in DEMO_CONTROLNETS:
        raise ModelError(f"the built-in demo model has a Canny ControlNet only (--mode canny): for {mode} edits "
                         "use a Stable Diffusion 1.x model (`t2vz models download stable-diffusion-v1-5/stable-diffusion-v1-5`)")
    folder = demo_model_dir() / DEMO_CONTROLNETS[mode]
    if not (folder / "config.json").is_file():
        raise ModelError(f"the demo model's {mode} ControlNet is missing ({folder}): reinstall t2vz-desktop, or "
                         "re-make it with `python -m t2vz_desktop.demo_model.train_controlnet`")
    return str(folder)


def is_demo_model(model: str) -> bool:
    """`model` names the built-in demo model: by its name, or by its folder's path."""
    return model == DEMO_MODEL or Path(model).expanduser().resolve() == demo_model_dir().resolve()


def mode_controlnet(mode: str, model: str, model_config: str | None = None, allow_unsafe_pickle: bool = False) -> str:
    """The ControlNet `mode` uses with `model` when none is named: the demo model's own; one that
    a model folder carries as `controlnet-<mode>/` (as the demo's does, so a copy of the demo
    folder keeps its ControlNet); an SDXL one for an SDXL base model (read from its
    configuration); else the paper's SD 1.5 one."""
    if is_demo_model(model):
        return demo_controlnet(mode)
    own = Path(model).expanduser() / f"controlnet-{mode}"
    if own.is_dir():  # a broken one is refused by name (locate_controlnet), not passed over
        return str(own)
    unet = base_unet_config(model, model_config, allow_unsafe_pickle)
    return default_controlnet(mode, bool(unet) and is_sdxl_unet(unet))


def check_controlnet_fits(net: str, model: str, model_config: str | None = None,
                          allow_unsafe_pickle: bool = False) -> None:
    """Refuse a ControlNet made for another kind of base model, before anything loads: ModelError
    naming the first thing that differs (an SD 1.5 ControlNet on the demo model, or on SD 2.x,
    ran ~40 s and then failed with a raw tensor-size error). Silent when a configuration cannot
    be read here: the loader then says what is wrong."""
    kind = locate_controlnet(net)
    net_config = controlnet_config(net, kind)
    unet_config = base_unet_config(model, model_config, allow_unsafe_pickle)
    if net_config is None or unet_config is None:
        return
    embedding = net_config.get("conditioning_embedding_out_channels")
    if isinstance(embedding, list) and embedding:
        net_config = {**net_config, "vae_scale_factor": 2 ** (len(embedding) - 1)}
    shown = "the built-in demo model" if model == DEMO_MODEL else f"the model '{model}'"
    for key, what in {**FITTING_KEYS, "vae_scale_factor": "image-to-latent scale", **FITTING_EVEN_IF_ABSENT}.items():
        a, b = net_config.get(key), unet_config.get(key)
        if (a is not None and b is not None or key in FITTING_EVEN_IF_ABSENT) and a != b:
            raise ModelError(f"ControlNet '{net}' does not fit {shown} (its {what} is {_short(a)}, the model's "
                             f"{_short(b)}): a ControlNet works only with the model family it was trained for, "
                             "so choose that model or another ControlNet")
    if kind == "file":
        _check_sd15_layout(net_config, Path(net).expanduser())


def _check_sd15_layout(file_config: dict, path: Path) -> None:
    """A single .safetensors ControlNet loads with SD 1.5's configuration
    (resources/configs/controlnet-sd15), so one of another shape (a small model's, or a diffusers
    folder's weights copied out of it) failed at load with diffusers' raw shape-mismatch text."""
    sd15 = _read_json(resources_dir() / "configs" / "controlnet-sd15" / "config.json") or {}
    widths = sd15.get("block_out_channels") or [None]
    expected = {"cross_attention_dim": sd15.get("cross_attention_dim"), "in_channels": sd15.get("in_channels"),
                "first_block_width": widths[0]}
    for key, value in expected.items():
        if key in file_config and value is not None and file_config[key] != value:
            raise ModelError(f"{path.name} is not a Stable Diffusion 1.5 ControlNet (its {key.replace('_', ' ')} is "
                             f"{file_config[key]}, SD 1.5's {value}); a single .safetensors ControlNet is read in SD "
                             "1.5's layout: pass the diffusers folder it came from")


def _read_json(file: Path | None) -> dict | None:
    import json

    try:
        data = json.loads(file.read_text(encoding="utf-8")) if file is not None else None
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _short(value) -> str:
    if value is None:
        return "none"
    return "/".join(map(str, value)) if isinstance(value, list) else str(value)


def load_controlnet(name: str, dtype: torch.dtype, device: torch.device) -> torch.nn.Module:
    """A ControlNet from a folder, a .safetensors file (SD 1.5 layout) or a hub id in the cache."""
    from diffusers import ControlNetModel

    kind = locate_controlnet(name)
    try:
        if kind in ("folder", "folder's weights"):
            folder = _net_folder(name, kind)
            net = ControlNetModel.from_pretrained(folder, dtype=dtype, local_files_only=True,
                                                  variant=weights_variant_of(folder))
        elif kind == "file":
            config = resources_dir() / "configs" / "controlnet-sd15"
            net = ControlNetModel.from_single_file(str(Path(name).expanduser()), config=str(config), dtype=dtype,
                                                   local_files_only=True)
        else:
            net = ControlNetModel.from_pretrained(name, dtype=dtype, local_files_only=True)
    except (OSError, ValueError) as e:
        advice = {"hub cache": "fetch it again with `t2vz models download " + name + "`",
                  "file": "it is read in SD 1.5's single-file layout; pass its diffusers folder if it has one"}
        raise ModelError(f"ControlNet '{name}' could not be loaded ({first_line(e)}); "
                         f"{advice.get(kind, 'it may be damaged or incomplete: copy or download it again')}") from e
    return net.to(device).eval()


def _net_folder(name: str, kind: str) -> Path:
    path = Path(name).expanduser()
    return path.parent if kind == "folder's weights" else path


def net_inputs(net, extra: dict) -> dict:
    """The UNet's further inputs a ControlNet takes: SDXL's added conditioning, and a guidance
    embedding only where it has one of its own (an LCM's UNet does; its ControlNets, made for the
    base model, do not, as diffusers' ControlNet pipelines pass it to the UNet alone)."""
    if getattr(net.config, "time_cond_proj_dim", None) is None:
        return {k: v for k, v in extra.items() if k != "timestep_cond"}
    return extra


def control_denoiser(unet, controls: list[ControlInput]) -> Denoiser:
    """UNet call with the summed residuals of every ControlNet, for each row's own frame."""

    def call(x, t, emb, frames, with_image, extra=None):
        down, mid = None, None
        index = frames.cpu()
        for c in controls:
            image = c.frames[index].to(x.device, x.dtype).permute(0, 3, 1, 2) / 255.0  # (rows, 3, H, W)
            d, m = c.net(x, t, encoder_hidden_states=emb, controlnet_cond=image, conditioning_scale=c.scale,
                         return_dict=False, **net_inputs(c.net, extra or {}))
            down = d if down is None else [a + b for a, b in zip(down, d)]
            mid = m if mid is None else mid + m
        return unet(x, t, encoder_hidden_states=emb, down_block_additional_residuals=down,
                    mid_block_additional_residual=mid, return_dict=False, **(extra or {}))[0]

    return call
