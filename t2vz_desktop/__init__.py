"""t2vz-desktop: text-to-video and video editing with Text2Video-Zero."""

__version__ = "0.1.0"
