"""Latents -> pixels, a few frames at a time, so memory does not grow with the video length."""

from __future__ import annotations

import queue
import threading
from typing import Iterator, TypeVar

import numpy as np
import torch

from .finite import NonFinite


@torch.no_grad()
def decode_latents(vae, latents: torch.Tensor) -> torch.Tensor:
    """Scaled latents -> images in [0, 1].  # (n, 3, H, W) float32

    fp16 VAEs can overflow to NaN (or give black frames); such a batch is decoded again in
    fp32, and the VAE stays in fp32 for the rest of the job. Raises NonFinite when the frames are
    NaN or inf in fp32 too: a video is never written from them.
    """
    shift = getattr(vae.config, "shift_factor", None) or 0.0
    z = latents / vae.config.scaling_factor + shift
    image = vae.decode(z.to(vae.dtype), return_dict=False)[0].float()
    finite = bool(torch.isfinite(image).all())
    if vae.dtype != torch.float32 and (not finite or _black_frames(image, latents)):
        vae.to(torch.float32)
        image = vae.decode(z.float(), return_dict=False)[0].float()
        finite = bool(torch.isfinite(image).all())
    if not finite:
        raise NonFinite("the VAE decoded NaN frames even in float32 (a broken or mismatched VAE?)")
    return (image / 2 + 0.5).clamp(0, 1)


def _black_frames(image: torch.Tensor, latents: torch.Tensor) -> bool:
    """Whether a frame came out all black from a latent with something in it (an fp16 overflow
    that clamped instead of giving NaN)."""
    black = image.flatten(1).amax(dim=1) <= -0.99  # every pixel at the bottom of [-1, 1]
    informative = latents.float().flatten(1).std(dim=1) > 0.1
    return bool((black & informative.to(black.device)).any())


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(n, 3, H, W) in [0, 1] -> (n, H, W, 3) uint8, rounded as diffusers does (x * 255, half to
    even). Converted where the images are, so that one uint8 copy, a quarter of the float bytes,
    goes to the host."""
    return (images * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def decode_batch(device: torch.device) -> int:
    """Frames per VAE call: 8 on a CUDA GPU (what diffusers' TextToVideoZeroPipeline decodes at
    once for its 8 frames at 512x512, so any GPU that runs it holds it; fewer, larger calls keep
    the GPU busy), 4 elsewhere (CPU memory stays flat). Fixed per device kind, never by free
    memory: the batch changes the kernels' rounding, and a recipe must re-make its pixels."""
    return 8 if device.type == "cuda" else 4


def iter_decoded(vae, latents: torch.Tensor, batch: int = 4, device: torch.device | None = None) -> Iterator[np.ndarray]:
    """Yield uint8 RGB frames (H, W, 3) one by one, decoding `batch` latents at a time."""
    for start in range(0, len(latents), batch):
        chunk = latents[start : start + batch]
        if device is not None:
            chunk = chunk.to(device)
        yield from to_uint8(decode_latents(vae, chunk))


T = TypeVar("T")
_DONE = object()


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


def ahead(items: Iterator[T], depth: int = 8) -> Iterator[T]:
    """`items`, made in a background thread up to `depth` ahead of whoever reads them: decoding
    (GPU kernels, which release the GIL) overlaps the video encoder (PyAV, which does too).
    The order is kept; an exception in the thread is raised here; closing this generator, or an
    exception in the reader (a cancel), stops the thread at its next item."""
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as e:  # handed to the reader, which raises it
            put(_Failed(e))

    thread = threading.Thread(target=produce, name="t2vz-decode-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()
