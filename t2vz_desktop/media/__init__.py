"""Media layer: PyAV/OpenCV reading and writing of videos. Never imports Qt or torch.

Every file is read through `reader` (pictures and sound on one presentation-time clock).
"""

from .atomic import AtomicGroup, atomic_write_bytes, atomic_write_text, clean_folder, settle
from .audio import CODECS as AUDIO_CODECS, AudioClip, MixedSound
from .export import (
    ExportOptions, ExportReport, check_target, export_format, export_video, read_recipe,
    refuse_overwriting_inputs, refuse_sharing_a_recipe, write_export,
)
from .reader import (
    ACCEPTED, VIDEO_SUFFIXES, MediaError, VideoInfo, audio_blocks, check_audio, frames_at, has_audio, iter_frames,
    probe_video, read_metadata,
)

__all__ = [
    "AtomicGroup",
    "atomic_write_bytes",
    "atomic_write_text",
    "clean_folder",
    "settle",
    "AudioClip",
    "AUDIO_CODECS",
    "MixedSound",
    "has_audio",
    "ExportOptions",
    "ExportReport",
    "ACCEPTED",
    "VIDEO_SUFFIXES",
    "MediaError",
    "audio_blocks",
    "check_audio",
    "frames_at",
    "VideoInfo",
    "check_target",
    "refuse_overwriting_inputs",
    "refuse_sharing_a_recipe",
    "export_format",
    "export_video",
    "iter_frames",
    "probe_video",
    "read_metadata",
    "read_recipe",
    "write_export",
]
