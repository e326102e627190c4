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

import torch

from .system import compile_cache_dir

# Dynamo recompiles a function once per guard set; every ResnetBlock2D shares one forward, and SD
# 1.5 has more shapes of it than dynamo's default limit of 8, past which it runs eagerly.
RECOMPILE_LIMIT = 64


def _regions():
    from diffusers.models.attention import FeedForward
    from diffusers.models.resnet import ResnetBlock2D

    return ResnetBlock2D, FeedForward


def set_compiled(net: torch.nn.Module, on: bool) -> int:
    """Compile `net`'s repeated blocks in place (on) or run them eagerly again (off); the compiled
    callables are kept on the blocks, so turning it back on compiles nothing new. Returns the
    number of blocks switched. Compilation itself happens at the first call of each shape."""
    regions = _regions()
    blocks = [m for m in net.modules() if isinstance(m, regions)]
    if on:
        _configure()
        for m in blocks:
            if getattr(m, "_t2vz_compiled", None) is None:
                m._t2vz_compiled = torch.compile(m._call_impl)
            m._compiled_call_impl = m._t2vz_compiled
    else:
        for m in blocks:
            m._compiled_call_impl = None
    return len(blocks)


def is_compiled(net: torch.nn.Module) -> bool:
    regions = _regions()
    return any(getattr(m, "_compiled_call_impl", None) is not None for m in net.modules() if isinstance(m, regions))


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


def warm_marker(model_name: str, dtype: torch.dtype, device: torch.device) -> Path:
    """A file that says this model was compiled here before, for this device, dtype and torch:
    then its kernels are in the cache and the job does not say it is optimising."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    key = "|".join((model_name, str(dtype), name, torch.__version__))
    return compile_cache_dir() / "compiled-models" / hashlib.sha1(key.encode()).hexdigest()


def _configure() -> None:
    import torch._dynamo

    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(compile_cache_dir()))
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, RECOMPILE_LIMIT)
