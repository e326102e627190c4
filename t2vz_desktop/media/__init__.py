"""Media layer: PyAV/OpenCV reading and writing of videos. Never imports Qt or torch."""

from .audio import AudioClip, has_audio
from .export import ExportOptions, ExportReport, check_target, export_format, export_video, read_recipe
from .reader import MediaError, VideoInfo, iter_frames, probe_video, read_metadata

__all__ = [
    "AudioClip",
    "has_audio",
    "ExportOptions",
    "ExportReport",
    "MediaError",
    "VideoInfo",
    "check_target",
    "export_format",
    "export_video",
    "iter_frames",
    "probe_video",
    "read_metadata",
    "read_recipe",
]
