"""Measures of generated videos (Qt-free): temporal flickering, dynamic degree, warping error,
CLIP frame consistency and text score, their per-frame plot, and side-by-side comparison videos.
Used by `t2vz eval`, `t2vz compare` and the scripts in benchmarks/."""

from .metrics import FLOW_NAME, VideoMeter, VideoScores, score_frames, score_pair, score_video

__all__ = ["FLOW_NAME", "VideoMeter", "VideoScores", "score_frames", "score_pair", "score_video"]
