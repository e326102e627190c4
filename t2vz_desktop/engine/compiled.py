"""The lossless "compiled" speed level: torch.compile (inductor) of the UNet's repeated blocks,
its kernels kept on disk so that the next launch starts compiled.

Regional compilation: each ResnetBlock2D and each transformer block's FeedForward is compiled on
its own; the cross-frame attention processors stay eager. A whole-UNet graph traces the
processors, whose chunk layout (Python ints) dynamo guards on, so every layout compiled anew
(~50 s each on SD, RESULTS.md); the blocks see only tensors, so the graphs are one per block shape
and batch size (the second batch size marks the batch dynamic: then no more), whatever the
chunks, videos or prompt keys. Inductor reorders float sums: results differ from exact by float
rounding only (tests: latents within 1e-4, frames within one 8-bit level).

Compiled code is cached by inductor under compile_cache_dir() (keyed by graph, dtype, shapes,
device and torch version), so a second launch loads it instead of compiling.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable

import torch

from .system import compile_cache_dir

# Dynamo recompiles a function once per guard set; every ResnetBlock2D shares one forward, and SD
# 1.5 has more shapes of it than dynamo's default limit of 8, past which it runs eagerly.
RECOMPILE_LIMIT = 64


def _blocks(net: torch.nn.Module) -> list[torch.nn.Module]:
    """The blocks compiled on their own: every ResnetBlock2D and FeedForward of `net`."""
    from diffusers.models.attention import FeedForward
    from diffusers.models.resnet import ResnetBlock2D

    return [m for m in net.modules() if isinstance(m, (ResnetBlock2D, FeedForward))]


def set_compiled(net: torch.nn.Module, on: bool) -> None:
    """Compile `net`'s repeated blocks in place (on) or run them eagerly again (off); the compiled
    callables are kept on the blocks, so turning it back on compiles nothing new. Compilation
    itself happens at the first call of each shape."""
    if on:
        _configure()
    for m in _blocks(net):
        if on and getattr(m, "_t2vz_compiled", None) is None:
            m._t2vz_compiled = torch.compile(m._call_impl)
        m._compiled_call_impl = m._t2vz_compiled if on else None


def is_compiled(net: torch.nn.Module) -> bool:
    return any(getattr(m, "_compiled_call_impl", None) is not None for m in _blocks(net))


def wants_compile(speed: str, device: torch.device) -> bool:
    """Whether a job at `speed` runs the compiled blocks: always for "compiled", never for
    "exact"; "auto" and the fast modes where it pays (CUDA; on the CPU inductor's kernels gained
    nothing measurable and the first compile costs minutes)."""
    return speed == "compiled" or (speed != "exact" and device.type == "cuda")


def prepare(unet: torch.nn.Module, compiled: bool, device: torch.device) -> None:
    """Switch the UNet's blocks to compiled or eager, and its memory format to what goes with
    them: channels-last for compiled convolutions on CUDA (measured 2.52 s against 2.90 s per
    video on an H200, RESULTS.md), the default layout otherwise, so exact stays bit for bit."""
    set_compiled(unet, compiled)
    layout = torch.channels_last if compiled and device.type == "cuda" else torch.contiguous_format
    weight = unet.conv_in.weight
    if not weight.is_contiguous(memory_format=layout):
        unet.to(memory_format=layout)


def warm_marker(model_name: str, dtype: torch.dtype, device: torch.device, latent_size: tuple[int, int]) -> Path:
    """A file that says this model was compiled here before, for this device, dtype, latent size
    and torch: then its kernels are in the cache and the job does not optimise first."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    key = "|".join((model_name, str(dtype), name, torch.__version__, f"{latent_size[0]}x{latent_size[1]}"))
    return compile_cache_dir() / "compiled-models" / hashlib.sha1(key.encode()).hexdigest()


def is_ready(unet, latent_size: tuple[int, int]) -> bool:
    """Whether this process has compiled (or loaded) the UNet's blocks for `latent_size`."""
    return tuple(latent_size) in getattr(unet, "_t2vz_ready", set())


@torch.no_grad()
def optimise(unet, latent_size: tuple[int, int], progress: Callable[[int, int], None],
             skipped: Callable[[], bool]) -> bool:
    """Compile every block shape a job at `latent_size` meets, one block at a time, before the
    denoising loop: `progress(done, total)` after each, and it stops when `skipped()` turns true
    (the blocks then run eagerly for this job). Each shape is called at batch 2 and then 1, so
    its graph takes any batch size afterwards. Returns whether it finished.

    The shapes are read from one eager UNet call on random inputs (a fraction of a step)."""
    seen: dict[tuple, tuple[torch.nn.Module, tuple, dict]] = {}

    def record(block, args, kwargs):
        shapes = tuple(a.shape for a in args if isinstance(a, torch.Tensor))
        seen.setdefault((type(block), shapes, tuple(p.shape for p in block.parameters())), (block, args, kwargs))

    set_compiled(unet, False)
    hooks = [m.register_forward_pre_hook(record, with_kwargs=True) for m in _blocks(unet)]
    try:
        p = next(unet.parameters())
        h, w = latent_size
        x = torch.randn(2, unet.config.in_channels, h, w, device=p.device, dtype=p.dtype)
        text = torch.randn(2, 77, unet.config.cross_attention_dim, device=p.device, dtype=p.dtype)
        unet(x, torch.tensor(500, device=p.device), encoder_hidden_states=text, added_cond_kwargs=sample_added(unet, 2))
    finally:
        for hook in hooks:
            hook.remove()
    set_compiled(unet, True)
    for done, (block, args, kwargs) in enumerate(seen.values()):
        if skipped():
            set_compiled(unet, False)
            return False
        block(*args, **kwargs)
        block(*(_first_row(a) for a in args), **{k: _first_row(v) for k, v in kwargs.items()})
        progress(done + 1, len(seen))
    unet._t2vz_ready = getattr(unet, "_t2vz_ready", set()) | {tuple(latent_size)}
    return True


def sample_added(unet, batch: int) -> dict | None:
    """Random SDXL added conditioning of the right sizes for a trial call (None for SD).  # {"text_embeds": (batch, pooled), "time_ids": (batch, 6)}"""
    c = unet.config
    if c.addition_embed_type != "text_time":
        return None
    p = next(unet.parameters())
    pooled = c.projection_class_embeddings_input_dim - 6 * c.addition_time_embed_dim
    return {"text_embeds": torch.randn(batch, pooled, device=p.device, dtype=p.dtype),
            "time_ids": torch.full((batch, 6), 512.0, device=p.device, dtype=p.dtype)}


def _first_row(value):
    return value[:1] if isinstance(value, torch.Tensor) and value.ndim > 0 else value


def usable_cache() -> str | None:
    """None when the compile cache folder can hold kernels; else why not (one line)."""
    folder = compile_cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".writable"
        probe.touch()
        probe.unlink()
    except OSError as e:
        return f"compiled kernels need a writable folder and {folder} is not ({e.strerror or e})"
    return None


def _configure() -> None:
    import torch._dynamo

    # Assigned, not defaulted: importing torch's inductor (diffusers does) already set it to
    # /tmp/torchinductor_USER, which a reboot empties while our marker says the model is compiled.
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(compile_cache_dir() / "inductor")
    os.environ.setdefault("TRITON_CACHE_DIR", str(compile_cache_dir() / "triton"))
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, RECOMPILE_LIMIT)
    # A block that fails to compile later in a job (a new shape) runs eagerly instead of failing it.
    torch._dynamo.config.suppress_errors = True
