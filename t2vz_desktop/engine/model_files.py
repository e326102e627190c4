"""The files of a diffusers model folder, checked before the load (no torch).

A folder is a set of files anyone may have copied, edited or half-downloaded. diffusers and
transformers load what they find and report the rest late and in their own terms: a scheduler
configuration from another part loaded with default values (a wrong video, exit 0), a tokenizer
without its configuration failed at the first prompt ("int too big to convert"), a UNet
configuration in vae/ was blamed on t2vz.json. Each check here names the file and what it must
hold. The layout is diffusers' (`DiffusionPipeline.save_pretrained`: model_index.json names each
part's [library, class]; each part folder holds its configuration and weights).
"""

from __future__ import annotations

import json
from pathlib import Path

from .model_settings import ModelError, json_object

FOLDER_PARTS = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")
XL_PARTS = ("text_encoder_2", "tokenizer_2")  # SDXL's second text encoder (OpenCLIP bigG) and its tokenizer
CONFIGS = {"unet": "config.json", "vae": "config.json", "text_encoder": "config.json",
           "scheduler": "scheduler_config.json", "text_encoder_2": "config.json"}
# Weight file stems (diffusers' and transformers' names); a variant or shards add to the name.
WEIGHTS = {"unet": "diffusion_pytorch_model", "vae": "diffusion_pytorch_model", "text_encoder": "model",
           "text_encoder_2": "model"}
MAX_FRAME = 4096  # pixels, as --width/--height (request.py)


def check_folder_files(folder: Path, xl: bool = False) -> None:
    """ModelError, one line naming the file, for a folder whose parts do not fit together: every
    part's configuration there, a JSON object of the class model_index.json names, a tokenizer
    that fits each text encoder, and the values the engine reads itself (the UNet's sample_size,
    the VAE's scaling_factor). `xl`: an SDXL folder, with a second text encoder and tokenizer.
    Call after the part folders are known to exist."""
    index_path = folder / "model_index.json"
    index = json_object(index_path, "the pipeline's parts")
    if not isinstance(index.get("_class_name"), str):
        raise ModelError(f"{index_path} must name its _class_name (a string): it is not a pipeline diffusers wrote")
    parts = FOLDER_PARTS + (XL_PARTS if xl else ())
    classes = {part: _part_class(index, part, index_path) for part in parts}
    configs = {part: _part_config(folder, part, classes[part]) for part in CONFIGS if part in parts}
    _check_tokenizer(folder / "tokenizer", configs["text_encoder"])
    if xl:
        _check_tokenizer(folder / "tokenizer_2", configs["text_encoder_2"])
        _check_xl_widths(folder, configs["unet"], configs["text_encoder"], configs["text_encoder_2"])
    _check_sizes(folder, configs["unet"], configs["vae"])


def _check_xl_widths(folder: Path, unet: dict, first: dict, second: dict) -> None:
    """SDXL's UNet reads both encoders' states side by side and the second's pooled output beside
    six size ids: widths that do not add up failed at the first UNet call with a raw matrix-size
    error (Podell et al. 2023, section 2.1; diffusers' StableDiffusionXLPipeline._get_add_time_ids)."""
    path = folder / "unet" / "config.json"
    widths = [c.get("hidden_size") for c in (first, second)]
    cross = unet.get("cross_attention_dim")
    if all(isinstance(w, int) for w in widths) and isinstance(cross, int) and cross != sum(widths):
        raise ModelError(f"{path}: cross_attention_dim {cross} is not the two text encoders' widths together "
                         f"({widths[0]} + {widths[1]} = {sum(widths)}): the parts are from different models")
    added, time_dim, pooled = (unet.get("projection_class_embeddings_input_dim"), unet.get("addition_time_embed_dim"),
                               second.get("projection_dim"))
    if all(isinstance(v, int) for v in (added, time_dim, pooled)) and added != 6 * time_dim + pooled:
        raise ModelError(f"{path}: projection_class_embeddings_input_dim {added} is not six size ids of "
                         f"{time_dim} and text_encoder_2's pooled {pooled} ({6 * time_dim + pooled}): the parts are "
                         "from different models")


def check_weights_present(folder: Path, xl: bool = False) -> None:
    """ModelError where a network's weights file is missing (or is a folder or a broken link):
    the load said so in two lines, the last naming a .bin."""
    for part, stem in WEIGHTS.items():
        if part in XL_PARTS and not xl:
            continue
        if not has_weights(folder / part, stem):
            raise ModelError(f"model folder {folder} is incomplete: no {part} weights ({part}/{stem}.safetensors)")


def _part_class(index: dict, part: str, index_path: Path) -> str:
    entry = index.get(part)
    if not (isinstance(entry, list) and len(entry) == 2 and all(isinstance(x, str) for x in entry)):
        raise ModelError(f"{index_path}: \"{part}\" must be a [library, class] pair such as "
                         f"[\"diffusers\", \"UNet2DConditionModel\"] (got {json.dumps(entry)})")
    return entry[1]


def _part_config(folder: Path, part: str, index_class: str) -> dict:
    """The part's configuration; refused where it is missing or is another class's."""
    path = folder / part / CONFIGS[part]
    if not path.exists():
        raise ModelError(f"model folder {folder} is incomplete: no {part}/{CONFIGS[part]}")
    config = json_object(path, f"the {part}'s configuration")
    written = config.get("_class_name")
    if part.startswith("text_encoder"):  # transformers writes "architectures", diffusers "_class_name"
        names = config.get("architectures") if written is None else [written]
        if isinstance(names, list) and names and index_class not in names:
            raise ModelError(f"{path} is {article(names[0])} configuration, but model_index.json names the "
                             f"text_encoder {article(index_class)}")
        return config
    if not isinstance(written, str):
        raise ModelError(f"{path} must name its _class_name (a string): it is not a configuration diffusers wrote")
    # A scheduler may be another sampler than the index names (diffusers loads one from another's
    # configuration); the networks must be the class the index names.
    other = not written.endswith("Scheduler") if part == "scheduler" else written != index_class
    if other:
        raise ModelError(f"{path} is {article(written)} configuration, but model_index.json names the {part} "
                         f"{article(index_class)}")
    return config


def article(name: object) -> str:
    """ "an AutoencoderKL", "a UNet2DConditionModel" (a class name read as it is spelt)."""
    text = str(name)
    return f"{'an' if text[:1] in 'AEIOaeio' else 'a'} {text}"


def has_weights(part: Path, stem: str) -> bool:
    """Plain, variant ("model.fp16.safetensors") or sharded weights, as files (a folder or a broken
    link in their place failed inside the load, in two lines naming a .bin)."""
    # "*" may be empty: "model.*safetensors*" takes model.safetensors, .fp16.safetensors and the
    # shards' model.safetensors.index.json
    return any(f.is_file() for pattern in (f"{stem}.*safetensors*", f"{stem}.*bin*") for f in part.glob(pattern))


def weights_variant_of(part: Path, stem: str = "diffusion_pytorch_model") -> str | None:
    """The variant ("fp16") a part folder holds instead of plain weights, else None: diffusers
    loads plain weights unless told the variant, and failed on a folder of fp16 ones."""
    if any((part / f"{stem}.{s}").is_file() for s in ("safetensors", "bin")):
        return None
    found = sorted(part.glob(f"{stem}.*.safetensors"))
    return found[0].name.split(".")[-2] if found else None


def _check_tokenizer(folder: Path, text_config: dict) -> None:
    """The tokenizer's files, and a prompt length the text encoder takes: without
    tokenizer_config.json, CLIP's tokenizer pads to 10^30 tokens."""
    if not ((folder / "tokenizer.json").is_file() or
            ((folder / "vocab.json").is_file() and (folder / "merges.txt").is_file())):
        raise ModelError(f"the tokenizer in {folder} is incomplete: it needs tokenizer.json, or vocab.json and merges.txt")
    config_path = folder / "tokenizer_config.json"
    if not config_path.exists():
        raise ModelError(f"the tokenizer in {folder} is incomplete: no tokenizer_config.json")
    length = json_object(config_path, "the tokenizer's configuration").get("model_max_length")
    if length is None:
        raise ModelError(f"{config_path} names no model_max_length (the prompt length in tokens, 77 for Stable Diffusion)")
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ModelError(f"{config_path}: model_max_length must be a whole number of tokens (got {json.dumps(length)})")
    positions = text_config.get("max_position_embeddings")
    if isinstance(positions, int) and not isinstance(positions, bool) and length > positions:
        raise ModelError(f"{config_path}: model_max_length {length} is more tokens than the text encoder takes "
                         f"(its max_position_embeddings is {positions})")


def _check_sizes(folder: Path, unet: dict, vae: dict) -> None:
    """Values the engine reads itself (LoadedModel.native_size, the latents' scale), which the
    load takes as they are."""
    path = folder / "unet" / "config.json"
    size = unet.get("sample_size", 64)
    if isinstance(size, float) and size.is_integer():
        size = int(size)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ModelError(f"{path}: sample_size must be a whole number of latent pixels above 0 (got {json.dumps(size)})")
    channels = vae.get("block_out_channels")
    factor = 2 ** (len(channels) - 1) if isinstance(channels, list) and channels else None
    if factor is not None and not 16 <= size * factor <= MAX_FRAME:
        raise ModelError(f"{path}: sample_size {size} makes {size * factor} px frames with this VAE "
                         f"(x{factor}); a model draws 16 to {MAX_FRAME} px")
    scale = vae.get("scaling_factor", 0.18215)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale < float("inf"):
        raise ModelError(f"{folder / 'vae' / 'config.json'}: scaling_factor must be a number above 0 (got {json.dumps(scale)})")
