"""The same command makes the same MP4 pictures in every process (media/export.py: add_video_stream, encoder_options).

x264 read memory it never wrote on small frames, so after a generation had used the heap the
same frames decoded to different pixels from one run to the next: 5 runs of this command gave 5
different videos before the fix. Only fresh processes show it: within one the heap repeats."""

import subprocess
import sys
from pathlib import Path

import numpy as np

from t2vz_desktop.media import iter_frames

ROOT = Path(__file__).parents[1]


def test_the_same_generate_command_gives_the_same_mp4_pictures_in_fresh_processes(tmp_path):
    videos = []
    for run in range(3):
        out = tmp_path / f"run{run}.mp4"
        command = [sys.executable, "main.py", "generate", "a red square on a green background", "--model", "demo",
                   "--width", "96", "--height", "96", "--seed", "3", "--device", "cpu", "--out", str(out), "-q"]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        videos.append(np.stack(list(iter_frames(out))))
    assert videos[0].shape == (8, 96, 96, 3)
    for other in videos[1:]:
        assert np.array_equal(videos[0], other), f"up to {np.abs(videos[0].astype(int) - other).max()} levels apart"
