"""What probing a long Matroska file and reading a few of its frames cost, against a 1-second file
of the same 1080p H.264 (Matroska stores no frame count, so a reader that counts by decoding pays
for the whole file): media.probe_video, the first 8 frames, and 8 frames from the middle.

    python benchmarks/probe_seek.py              # the media zoo's 1080p_3min.mkv if present, 5 runs each
    python benchmarks/probe_seek.py --quick      # a 30 s long file, 1 run each
    python benchmarks/probe_seek.py --seconds 600 --repeat 3

The zoo's folder is ../shared/media-zoo (T2VZ_MEDIA_ZOO overrides it). Otherwise the long file is
made here in a few seconds: one 2-s GOP (IDR first, no B-frames) of a textured 1080p picture with
a small moving square is encoded once and its packets copied with shifted timestamps, which is a
valid stream because every GOP starts with an IDR frame. The 1-second file is the GOP's first
30 packets. Prints the median seconds of each step for both files and the long/short ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

import av  # noqa: E402
import numpy as np  # noqa: E402

from t2vz_desktop.media import iter_frames, probe_video  # noqa: E402

FPS, GOP = 30, 60


def gop_file(path: Path) -> Path:
    """One 2-s, 60-frame 1080p GOP (ultrafast, keyframe only at its start) in Matroska."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:1080, 0:1920]
    base = np.stack([x * 255 // 1920, y * 255 // 1080, (x + y) * 127 // 3000], axis=-1).astype(np.int16)
    noise = rng.integers(-12, 13, (135, 240, 1), dtype=np.int16).repeat(8, 0).repeat(8, 1)
    base = np.clip(base + noise, 0, 255).astype(np.uint8)
    with av.open(str(path), "w", format="matroska") as box:
        stream = box.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
        stream.options = {"preset": "ultrafast", "g": str(GOP), "keyint_min": str(GOP)}
        for i in range(GOP):
            image = base.copy()
            image[500:564, 32 * i:32 * i + 64] = 255  # some motion, so P-frames cost something to decode
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            box.mux(stream.encode(frame))
        box.mux(stream.encode(None))
    return path


def repeat_gop(gop: Path, path: Path, gops: int, packets: int = GOP) -> Path:
    """`gops` copies of the first `packets` packets of `gop`, each shifted by the GOP's length."""
    with av.open(str(gop)) as source, av.open(str(path), "w", format="matroska") as box:
        template = source.streams.video[0]
        stream = box.add_stream_from_template(template)
        kept = [p for p, _ in zip(source.demux(template), range(packets)) if p.size]
        shift = round(GOP / FPS / template.time_base)
        for g in range(gops):
            for p in kept:
                copy = av.Packet(bytes(p))
                copy.pts, copy.dts = p.pts + g * shift, p.dts + g * shift
                copy.duration, copy.time_base, copy.is_keyframe = p.duration, p.time_base, p.is_keyframe
                copy.stream = stream
                box.mux(copy)
    return path


def median_s(work, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        work()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(path: Path, repeat: int) -> dict[str, float]:
    n = probe_video(path).frames
    return {
        "frames": n,
        "probe": median_s(lambda: probe_video(path), repeat),
        "first 8": median_s(lambda: list(iter_frames(path, 0, 8)), repeat),
        "middle 8": median_s(lambda: list(iter_frames(path, n // 2, n // 2 + 8)), repeat),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=int, default=180, help="length of the long file when it is made here")
    p.add_argument("--repeat", type=int, default=5, help="runs of each step (the median is printed)")
    p.add_argument("--quick", action="store_true", help="a 30 s long file and 1 run each")
    a = p.parse_args(argv)
    seconds, repeat = (30, 1) if a.quick else (a.seconds, a.repeat)
    zoo = Path(os.environ.get("T2VZ_MEDIA_ZOO", ROOT.parent / "shared" / "media-zoo")) / "1080p_3min.mkv"
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        gop = gop_file(Path(tmp) / "gop.mkv")
        short = repeat_gop(gop, Path(tmp) / "short_1s.mkv", 1, packets=FPS)
        if zoo.exists() and seconds == 180 and not a.quick:
            long = zoo
        else:
            long = repeat_gop(gop, Path(tmp) / f"long_{seconds}s.mkv", -(-seconds // 2))
        print(f"made the files in {time.perf_counter() - t0:.1f} s; long: {long} ({long.stat().st_size / 1e6:.1f} MB)")
        results = {name: measure(path, repeat) for name, path in (("short", short), ("long", long))}
    print(f"median of {repeat} run(s), seconds")
    print("| file | frames | probe_video | first 8 frames | middle 8 frames |")
    print("|------|--------|-------------|----------------|-----------------|")
    for name, r in results.items():
        print(f"| {name} | {r['frames']} | {r['probe']:.3f} | {r['first 8']:.3f} | {r['middle 8']:.3f} |")
    s, g = results["short"], results["long"]
    print("| long/short | | " + " | ".join(f"{g[k] / s[k]:.1f}x" for k in ("probe", "first 8", "middle 8")) + " |")
    print("goal: long/short within 1.5x; probe < 0.3 s")


if __name__ == "__main__":
    main()
