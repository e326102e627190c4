"""Load a Stable Diffusion 1.x/2.x or SDXL model: the built-in demo, a hub id from the local
cache, a diffusers folder, or a single checkpoint file. Every failure a user can fix is a `ModelError`
whose message says what was looked for and what to pass instead.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .model_settings import (  # noqa: F401  (re-exported: the engine's and the app's name for them)
    HUB_ID, MODEL_SETTINGS, ModelError, cross_attention_layers, demo_model_dir, few_step_defaults, is_sdxl_unet,
    json_object, read_defaults,
)
from .model_files import FOLDER_PARTS, XL_PARTS, check_folder_files, check_weights_present, weights_variant_of
from .model_load import check_loaded, load_message, load_text_encoder
from .paths import resources_dir
from .prompts import EmbeddingCache
from .request import DEFAULT_MODEL, PICKLE_SUFFIXES, SCHEDULERS, first_line  # noqa: F401  (re-exported)

DEMO_MODEL = "demo"
# diffusers' checkpoint-type names -> our offline configuration folders (resources/configs).
SINGLE_FILE_CONFIGS = {"v1": "sd15", "v2": "sd21", "xl_base": "sdxl"}
SDXL_PIPELINE = "StableDiffusionXLPipeline"  # model_index.json's _class_name of SDXL base and its fine-tunes
# Pipelines of other architectures, by diffusers' class names (model_index.json's _class_name).
OTHER_FAMILIES = ("StableDiffusion3", "Flux", "Kandinsky", "PixArt", "Wuerstchen", "StableCascade", "IFPipeline",
                  "Sana", "CogView", "Lumina", "HunyuanDiT", "AuraFlow", "Kolors")


@dataclass
class LoadedModel:
    pipe: object  # a diffusers StableDiffusion(XL)Pipeline, used as the container of the parts
    name: str  # what the user asked for
    source: str  # "demo", "hub cache", "folder", "single file"
    device: torch.device
    dtype: torch.dtype
    defaults: dict = field(default_factory=dict)  # t2vz.json beside the weights, if any
    embeddings: EmbeddingCache = field(default_factory=EmbeddingCache)  # prompts encoded by this model
    vae_note: str | None = None  # how an fp16 SDXL model's VAE runs (fit_vae_precision), said once a job

    @property
    def vae_scale_factor(self) -> int:
        return 2 ** (len(self.pipe.vae.config.block_out_channels) - 1)

    @property
    def native_size(self) -> int:
        return int(self.pipe.unet.config.sample_size) * self.vae_scale_factor


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as e:
        raise ModelError(f"unknown device '{name}': use auto, cpu, cuda, cuda:N or mps") from e
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ModelError("device 'cuda' asked for, but this torch build sees no CUDA GPU (use --device cpu)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ModelError("device 'mps' asked for, but it is not available here (use --device cpu)")
    return device


DTYPE_FLAGS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}  # --dtype's values


def dtype_flag(dtype: torch.dtype) -> str:
    """The --dtype value (recipe `dtype`) that loads weights in `dtype`."""
    return next(flag for flag, d in DTYPE_FLAGS.items() if d == dtype)


def pick_dtype(name: str, device: torch.device) -> torch.dtype:
    if name == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    table = {**DTYPE_FLAGS, **{str(d).removeprefix("torch."): d for d in DTYPE_FLAGS.values()}}  # also "float16"
    if name not in table:
        raise ModelError(f"unknown dtype '{name}': use auto, fp32, fp16 or bf16")
    return table[name]


def _common_kwargs(dtype: torch.dtype) -> dict:
    # The safety checker is never loaded: it is large, and a desktop tool leaves that to the user.
    return {"dtype": dtype, "safety_checker": None, "requires_safety_checker": False}


def check_model_folder(folder: Path, name: str) -> None:
    """ModelError, one line, for a folder that is not a diffusers model this engine runs: no
    model_index.json, another pipeline (an SDXL refiner, Flux, ...), a missing part, parts that do
    not fit together (model_files.check_folder_files) or a bad t2vz.json."""
    if not (folder / "model_index.json").exists():
        raise ModelError(f"'{name}' is a folder but not a diffusers model (no model_index.json in {folder})")
    _refuse_other_pipelines(folder / "model_index.json", name)
    xl = is_sdxl_index(folder / "model_index.json")
    if not xl:
        _refuse_unnamed_sdxl(folder)
    missing = [p for p in FOLDER_PARTS + (XL_PARTS if xl else ()) if not (folder / p).is_dir()]
    if missing:
        raise ModelError(f"model folder {folder} is incomplete: no {', '.join(p + '/' for p in missing)}")
    check_folder_files(folder, xl)
    read_defaults(folder)  # after the configurations: its subject_layers are checked against the UNet's


def weights_variant(folder: Path) -> str | None:
    """The weights variant a diffusers folder holds instead of plain weights ("fp16" when its UNet
    has only diffusion_pytorch_model.fp16.safetensors, as `t2vz models download` fetches), else None;
    diffusers then takes the variant where a component has it and the plain weights elsewhere."""
    unet = folder / "unet"
    return weights_variant_of(unet) if unet.is_dir() else None


def is_sdxl_index(index: Path) -> bool:
    """Whether a model_index.json describes an SDXL base pipeline (two text encoders, pooled text
    and size conditioning)."""
    return json_object(index, "the pipeline's parts").get("_class_name") == SDXL_PIPELINE


def _refuse_other_pipelines(index: Path, name: str) -> None:
    """One line, before any load, for a pipeline this engine cannot run (loaded as SD, an SDXL
    refiner's UNet failed at the first call with "argument of type 'NoneType' is not iterable")."""
    kind = json_object(index, "the pipeline's parts").get("_class_name")
    if not isinstance(kind, str):  # check_folder_files refuses it once the parts are known to be there
        return
    runs = "t2vz runs Stable Diffusion 1.x, 2.x and SDXL text-to-image models"
    if "XL" in kind and kind != SDXL_PIPELINE:  # the refiner, inpainting, Instruct-Pix2Pix: other UNets
        raise ModelError(f"'{name}' is an SDXL {kind} model, not the SDXL base pipeline; {runs} (SDXL base 1.0 and "
                         "its fine-tunes)")
    if any(family in kind for family in OTHER_FAMILIES):
        raise ModelError(f"'{name}' is a {kind} model; {runs}")


def _refuse_unnamed_sdxl(folder: Path) -> None:
    """An SDXL UNet in a folder whose model_index.json names another pipeline loaded as SD and
    failed at the first prompt ("tuple index out of range")."""
    config = folder / "unet" / "config.json"
    unet = json_object(config, "the UNet's configuration") if config.is_file() else {}
    if is_sdxl_unet(unet):
        kind = json_object(folder / "model_index.json", "the pipeline's parts").get("_class_name")
        raise ModelError(f"{config} is an SDXL UNet (added 'text_time' conditioning), but {folder / 'model_index.json'} "
                         f"names {json.dumps(kind)}: an SDXL base folder's _class_name is {SDXL_PIPELINE}")


def _pipeline_class(xl: bool):
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    return StableDiffusionXLPipeline if xl else StableDiffusionPipeline


def _load_folder(folder: Path, name: str, dtype: torch.dtype):
    xl = is_sdxl_index(folder / "model_index.json")
    # Here, not in check_model_folder: the benchmarks' configuration-only models are built
    # with random weights in memory and pass through the checks without weight files.
    check_weights_present(folder, xl)
    variant = weights_variant(folder)
    try:
        encoders = {part: load_text_encoder(folder, dtype, variant, part)
                    for part in ("text_encoder", "text_encoder_2")[: 2 if xl else 1]}
        pipe = _pipeline_class(xl).from_pretrained(folder, local_files_only=True, variant=variant, **encoders,
                                                   **_common_kwargs(dtype))
    except ModelError:
        raise
    except Exception as e:  # noqa: BLE001 - a value of the wrong kind in a part's file fails anywhere in the load
        raise ModelError(f"could not load the model folder {folder}: {load_message(e)}") from e
    check_loaded(pipe, folder)
    return pipe


def _load_hub_cache(repo: str, dtype: torch.dtype):
    from huggingface_hub import try_to_load_from_cache

    index = try_to_load_from_cache(repo, "model_index.json")
    variant = weights_variant(Path(index).parent) if isinstance(index, str) else None
    xl = isinstance(index, str) and is_sdxl_index(Path(index))
    try:
        pipe = _pipeline_class(xl).from_pretrained(repo, local_files_only=True, variant=variant,
                                                   **_common_kwargs(dtype))
    except (OSError, ValueError) as e:
        raise ModelError(f"model '{repo}' is in the local cache but incomplete: {load_message(e)}") from e
    check_loaded(pipe, f"the cached '{repo}'")
    return pipe


def checkpoint_kind(path: Path, allow_unsafe_pickle: bool = False) -> str:
    """diffusers' name for the kind of model in a single checkpoint file ('v1', 'v2', 'xl_base', ...),
    read from tensor names and shapes without loading the weights."""
    from diffusers.loaders.single_file_utils import infer_diffusers_model_type

    if path.suffix.lower() == ".safetensors":
        from safetensors import safe_open

        shapes = {}
        try:
            with safe_open(str(path), framework="pt") as f:
                for key in f.keys():
                    shapes[key] = torch.empty(f.get_slice(key).get_shape(), device="meta")
        except Exception as e:  # safetensors raises its own error types for damaged files
            raise ModelError(f"{path} is not a readable .safetensors checkpoint ({first_line(e)})") from e
    else:
        from diffusers.loaders.single_file_utils import load_single_file_checkpoint

        shapes = load_single_file_checkpoint(str(path), local_files_only=True)
    return infer_diffusers_model_type(shapes)


def single_file_config(path: Path, config: str | None, allow_unsafe_pickle: bool) -> Path:
    """The offline configuration folder for a checkpoint file: `config` (a folder or the name of
    one in resources/configs) or the one matching the checkpoint's kind."""
    configs = resources_dir() / "configs"
    if config:
        folder = Path(config) if Path(config).is_dir() else configs / config
        if not (folder / "model_index.json").is_file():
            known = ", ".join(sorted(p.name for p in configs.iterdir() if p.is_dir()))
            raise ModelError(f"--model-config '{config}' is neither a diffusers config folder nor one of: {known}")
        return folder
    kind = checkpoint_kind(path, allow_unsafe_pickle)
    if kind not in SINGLE_FILE_CONFIGS:
        raise ModelError(
            f"{path.name} looks like a '{kind}' checkpoint; t2vz runs Stable Diffusion 1.x, 2.x and SDXL base "
            "checkpoints (pass --model-config FOLDER if it is one with a custom architecture)"
        )
    return configs / SINGLE_FILE_CONFIGS[kind]


def shared_clip_tokenizer(config_folder: Path, part: str = "tokenizer"):
    """The CLIP BPE tokenizer shipped once in resources/tokenizers/clip, with the special tokens
    of `config_folder`'s `part` (SD 2.x and SDXL's tokenizer_2 pad with "!", SD 1.x and SDXL's
    first tokenizer with the end token)."""
    from transformers import CLIPTokenizer

    specials = config_folder / part / "special_tokens_map.json"
    kwargs = json.loads(specials.read_text()) if specials.is_file() else {}
    return CLIPTokenizer.from_pretrained(str(resources_dir() / "tokenizers" / "clip"), **kwargs)


def _load_single_file(path: Path, dtype: torch.dtype, config: str | None, allow_unsafe_pickle: bool):
    from diffusers.loaders.single_file_utils import SingleFileComponentError  # a part's weights missing from the file

    folder = single_file_config(path, config, allow_unsafe_pickle)
    xl = is_sdxl_index(folder / "model_index.json")
    extra = {}
    for part in ("tokenizer", "tokenizer_2")[: 2 if xl else 1]:
        if not any((folder / part / f).is_file() for f in ("vocab.json", "tokenizer.json")):
            extra[part] = shared_clip_tokenizer(folder, part)
    try:
        return _pipeline_class(xl).from_single_file(
            str(path), config=str(folder), local_files_only=True, **_common_kwargs(dtype), **extra
        )
    except (OSError, ValueError, KeyError, RuntimeError, SingleFileComponentError) as e:
        raise ModelError(f"could not load {path.name} with the configuration {folder.name}: {first_line(e)}") from e


def quiet_libraries() -> None:
    """Keep diffusers' and transformers' loading bars and notices off the user's console; our own
    progress events say what is happening."""
    import diffusers
    import transformers

    for lib in (diffusers, transformers):
        lib.utils.logging.set_verbosity_error()
        lib.utils.logging.disable_progress_bar()


@dataclass(frozen=True)
class ModelSource:
    """Where a model name points, found without loading anything."""

    kind: str  # "demo", "folder", "single file" or "hub cache"
    path: Path | None  # None for a hub id
    name: str

    @property
    def folder(self) -> Path | None:
        """The diffusers folder the model loads from, whose t2vz.json gives its settings; None
        for a single file or a hub id (their settings are Stable Diffusion's)."""
        return self.path if self.kind in ("demo", "folder") else None


def locate_model(name: str, allow_unsafe_pickle: bool = False) -> ModelSource:
    """Cheap checks first, so that a wrong --model fails in a moment, not after a load."""
    if not name.strip():  # Path("") is the current folder, which would be named as a model
        raise ModelError("no model named: give a diffusers folder, a .safetensors file, a hub id or demo")
    path = Path(name).expanduser()
    if name == DEMO_MODEL:
        folder = demo_model_dir()
        if not folder.is_dir():
            raise ModelError(
                f"the built-in demo model is missing ({folder}); re-make it with "
                "`python -m t2vz_desktop.demo_model.train`"
            )
        check_model_folder(folder, name)
        return ModelSource("demo", folder, name)
    if path.is_dir():
        check_model_folder(path, name)
        return ModelSource("folder", path, name)
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix in PICKLE_SUFFIXES and not allow_unsafe_pickle:
            raise ModelError(
                f"{path.name} is a pickle checkpoint, which can run arbitrary code when loaded; convert it "
                "to .safetensors, or pass --allow-unsafe-pickle if you trust its source"
            )
        if suffix not in PICKLE_SUFFIXES | {".safetensors"}:
            raise ModelError(f"{path.name}: unknown checkpoint type '{suffix}' (expected .safetensors)")
        return ModelSource("single file", path, name)
    if not HUB_ID.fullmatch(name) or path.suffix.lower() in PICKLE_SUFFIXES | {".safetensors"}:
        raise ModelError(
            f"no model at '{name}': pass a diffusers folder, a .safetensors file, a hub id like "
            f"{DEFAULT_MODEL} that is in the local cache, or --model demo"
        )
    from huggingface_hub import try_to_load_from_cache

    index = try_to_load_from_cache(name, "model_index.json")
    if isinstance(index, str):
        _refuse_other_pipelines(Path(index), name)
    if not isinstance(index, str):
        cache = os.environ.get("HF_HOME", "~/.cache/huggingface")
        raise ModelError(
            f"model '{name}' is not in the local Hugging Face cache ({cache}/hub): fetch it with "
            f"`t2vz models download {name}`, or pass a model folder or a .safetensors file to --model, or try "
            "the tool with --model demo"
        )
    return ModelSource("hub cache", None, name)


def check_model(name: str, allow_unsafe_pickle: bool = False, config: str | None = None) -> ModelSource:
    """Every check of a model that needs no load: `locate_model`, and for a .safetensors
    checkpoint its header (its kind, hence the configuration it needs). ModelError, one line."""
    source = locate_model(name, allow_unsafe_pickle)
    if source.kind == "single file" and source.path.suffix.lower() == ".safetensors":
        single_file_config(source.path, config, False)  # reads the header only
    return source


def load_model(
    name: str = DEFAULT_MODEL,
    device: str = "auto",
    dtype: str = "auto",
    config: str | None = None,
    allow_unsafe_pickle: bool = False,
    offload: bool = False,
    vae_tiling: bool = False,
    loras: tuple[tuple[str, float], ...] = (),
) -> LoadedModel:
    """Resolve `name` (demo, path, or hub id), load it, apply LoRAs, and put it on the device."""
    source = locate_model(name, allow_unsafe_pickle)
    quiet_libraries()
    dev = pick_device(device)
    dt = pick_dtype(dtype, dev)
    if source.folder is not None:
        pipe = _load_folder(source.folder, name, dt)
    elif source.kind == "single file":
        pipe = _load_single_file(source.path, dt, config, allow_unsafe_pickle)
    else:
        pipe = _load_hub_cache(name, dt)

    pipe.set_progress_bar_config(disable=True)
    vae = fit_vae_precision(pipe, dt)
    apply_loras(pipe, loras)
    if vae_tiling:
        pipe.vae.enable_tiling()
    if offload and dev.type == "cuda":
        pipe.enable_model_cpu_offload(device=dev)
    else:
        pipe.to(dev)
    distilled = getattr(pipe.unet.config, "time_cond_proj_dim", None) is not None
    own = few_step_defaults(type(pipe.scheduler).__name__, distilled)  # an LCM's 4 steps where it has no t2vz.json
    return LoadedModel(pipe=pipe, name=name, source=source.kind, device=dev, dtype=dt,
                       defaults={**own, **read_defaults(source.folder)}, vae_note=VAE_NOTES.get(vae))


FP16_FIX_VAE = "madebyollin/sdxl-vae-fp16-fix"  # SDXL's VAE fine-tuned to keep its activations in fp16's range
# Said to the user: the choice depends on what the cache holds, and the two decode slightly apart.
VAE_NOTES = {
    "fp16-fix": f"decoding with {FP16_FIX_VAE} from the cache in float16 (SDXL's own VAE overflows in float16)",
    "float32": f"decoding with SDXL's own VAE in float32 (it overflows in float16; `t2vz models download "
               f"{FP16_FIX_VAE}` decodes in float16)",
}


def fit_vae_precision(pipe, dtype: torch.dtype) -> str | None:
    """SDXL's VAE overflows in float16 (NaN or black frames; its config says force_upcast): for
    a float16 SDXL model, take the fp16-fix VAE where the hub cache holds it (same latents, fp16
    throughout, Ollin Boer Bohan 2023), else keep the model's own VAE in float32, as diffusers'
    pipeline upcasts it. Returns which was done ("fp16-fix" | "float32"), None where nothing
    was needed (SD, or another dtype)."""
    from .prompts import is_sdxl

    if dtype != torch.float16 or not is_sdxl(pipe) or not getattr(pipe.vae.config, "force_upcast", False):
        return None
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(FP16_FIX_VAE, "config.json"), str):
        from diffusers import AutoencoderKL

        try:
            pipe.register_modules(vae=AutoencoderKL.from_pretrained(FP16_FIX_VAE, dtype=dtype, local_files_only=True))
            return "fp16-fix"
        except (OSError, ValueError):  # a half-downloaded copy: the model's own VAE, upcast, still works
            pass
    pipe.vae.to(torch.float32)
    return "float32"


def apply_loras(pipe, loras: tuple[tuple[str, float], ...]) -> None:
    """Load each LoRA file as its own adapter and weight them (diffusers' PEFT integration)."""
    if not loras:
        return
    try:
        import peft  # noqa: F401  diffusers needs it for LoRA and says so less clearly
    except ImportError as e:
        raise ModelError("LoRA files need the 'peft' package: pip install peft") from e
    names = []
    for i, (path, _) in enumerate(loras):
        file = Path(path).expanduser()
        if not file.is_file() or file.suffix.lower() != ".safetensors":
            raise ModelError(f"LoRA '{path}' is not a .safetensors file")
        try:
            pipe.load_lora_weights(str(file.parent), weight_name=file.name, adapter_name=f"lora{i}")
        except (OSError, ValueError, KeyError, RuntimeError) as e:
            raise ModelError(f"could not apply the LoRA {file.name}: {first_line(e)}") from e
        names.append(f"lora{i}")
    pipe.set_adapters(names, adapter_weights=[scale for _, scale in loras])


def make_scheduler(name: str, config):
    """A fresh scheduler of the chosen kind with the model's noise schedule."""
    from diffusers import (
        DDIMScheduler, DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler, LCMScheduler, TCDScheduler,
    )

    # Few-step samplers for distilled weights (an LCM-LoRA, Hyper-SD, an LCM or TCD model): they
    # take the model's noise schedule as the others do; with ordinary weights they still run.
    if name == "lcm":
        return LCMScheduler.from_config(config)
    if name == "tcd":
        return TCDScheduler.from_config(config)
    if name == "ddim":
        return DDIMScheduler.from_config(config)
    if name == "euler-a":
        return EulerAncestralDiscreteScheduler.from_config(config)
    if name == "dpm++":
        return DPMSolverMultistepScheduler.from_config(config, algorithm_type="dpmsolver++", solver_order=2)
    raise ModelError(f"unknown scheduler '{name}': use one of {', '.join(SCHEDULERS)}")
