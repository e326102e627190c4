"""`kill -9` during real exports: does the pair under the final names always match?

    python benchmarks/kill_writes.py                 # 50 kills each: MP4 + sidecar, PNG folder
    python benchmarks/kill_writes.py --kills 10 --frames 20

Each round starts `t2vz_desktop.media.export_video` in a fresh Python process (64x64 frames, a
recipe with a fresh marker) over the pair the previous round left, and kills it with SIGKILL at a
random moment: half anywhere from its start to 1.3 times its usual length, half from 0.7 to 1.2 times it, where the renames
happen. Then it looks at the names as the killed process left them, runs what the next export
runs first (`check_target`, which finishes an interrupted commit and removes dead leftovers),
and checks:
  - MP4: the recipe embedded in the video equals its sidecar .json, and the video decodes to as
    many frames as that recipe says (old+old or new+new; anything else is a mismatch);
  - PNG folder: the folder exists, its recipe.json names this or the previous round, and it holds
    exactly that many readable frames;
  - no `.part` or journal is left.
Prints one line per case: kills, mismatched pairs, how many ended old / new, and how many kills
left a commit journal that the next start rolled forward.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from t2vz_desktop.media import check_target, export_video, probe_video, read_metadata  # noqa: E402
from t2vz_desktop.media.export import ExportOptions  # noqa: E402

CHILD = """
import json, sys
import numpy as np
from t2vz_desktop.media import ExportOptions, export_video
path, fmt, marker, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
recipe = json.dumps({"t2vz_recipe": 1, "marker": marker, "frames": n})
rng = np.random.default_rng(abs(hash(marker)) % 2**32)
frames = [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(n)]
print("ready", flush=True)
sys.stdin.readline()
export_video(iter(frames), path, ExportOptions(format=fmt, metadata=recipe))
print("done", flush=True)
"""


def recipe(marker: str, n: int) -> str:
    return json.dumps({"t2vz_recipe": 1, "marker": marker, "frames": n})


def start(path: Path, fmt: str, marker: str, n: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), fmt, marker, str(n)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
    )
    assert child.stdout.readline().strip() == "ready"
    return child


def export_seconds(folder: Path, fmt: str, n: int) -> float:
    """How long one export takes from 'go' to its end (to place the kills)."""
    path = folder / ("calibrate" if fmt == "png" else f"calibrate.{fmt}")
    child = start(path, fmt, "calibrate", n)
    t0 = time.perf_counter()
    child.stdin.write("go\n")
    child.stdin.flush()
    assert child.stdout.readline().strip() == "done"
    took = time.perf_counter() - t0
    child.wait()
    return took


def state(path: Path, fmt: str) -> tuple[str | None, str]:
    """(marker, problem): the marker of a whole, matching export at `path`, else a problem."""
    try:
        return _state(path, fmt)
    except Exception as e:  # a half-written file that does not even parse
        return None, f"{type(e).__name__}: {e}"


def _state(path: Path, fmt: str) -> tuple[str | None, str]:
    if fmt == "png":
        if not path.is_dir():
            return None, "the folder is missing"
        rec = json.loads((path / "recipe.json").read_text())
        files = sorted(path.glob("frame_*.png"))
        if len(files) != rec["frames"] or any(cv2.imread(str(f)) is None for f in files):
            return None, f"{len(files)} readable frames for a recipe of {rec['frames']}"
        return rec["marker"], ""
    embedded = read_metadata(path).get("comment")
    sidecar = path.with_suffix(".json").read_text() if path.with_suffix(".json").exists() else None
    if embedded != sidecar:
        return None, "the sidecar is not the video's recipe"
    rec = json.loads(embedded)
    frames = probe_video(path).frames
    if frames != rec["frames"]:
        return None, f"{frames} frames for a recipe of {rec['frames']}"
    return rec["marker"], ""


def run_case(folder: Path, fmt: str, kills: int, frames: int, rng: random.Random) -> str:
    path = folder / ("frames" if fmt == "png" else f"clip.{fmt}")
    duration = export_seconds(folder, fmt, frames)
    export_video((np.full((64, 64, 3), 7, np.uint8) for _ in range(3)), path,
                 ExportOptions(format=fmt, metadata=recipe("start", 3)))
    previous = "start"
    counts = {"old": 0, "new": 0, "mismatched": 0, "journals": 0, "finished by the kill": 0, "before next start": 0, "leftovers": 0}
    problems = []
    for i in range(kills):
        marker = f"round-{i}"
        n = frames + i % 3  # a different length each round, so old and new cannot be confused
        child = start(path, fmt, marker, n)
        delay = rng.uniform(0, 1.3) if i % 2 == 0 else rng.uniform(0.7, 1.2)
        child.stdin.write("go\n")
        child.stdin.flush()
        time.sleep(delay * duration)
        child.send_signal(signal.SIGKILL)
        child.wait()
        if child.returncode == 0:
            counts["finished by the kill"] += 1
        names = os.listdir(folder)
        counts["journals"] += any(name.endswith(".t2vz-commit") for name in names)
        raw, _ = state(path, fmt)
        counts["before next start"] += raw is None
        check_target(path, fmt)  # what the next export to this name does first
        got, problem = state(path, fmt)
        leftovers = [n for n in os.listdir(folder) if n.startswith(".") and n != ".keep"]
        if leftovers:
            counts["leftovers"] += 1
        if got not in (previous, marker) or problem:
            counts["mismatched"] += 1
            problems.append(f"round {i}: {problem or got}")
            continue
        counts["old" if got == previous else "new"] += 1
        previous = got
    label = "export mp4+json" if fmt != "png" else "export png folder"
    line = (f"{label}: {kills} kills, {counts['mismatched']} mismatched pairs, {counts['old']} old, "
            f"{counts['new']} new, {counts['leftovers']} with leftovers; {counts['journals']} left a commit journal (rolled forward), "
            f"{counts['before next start']} not whole or not matching until the next start, "
            f"{counts['finished by the kill']} finished before the kill; one export takes {duration * 1000:.0f} ms")
    return "\n".join([line, *("    " + p for p in problems)])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kills", type=int, default=50)
    p.add_argument("--frames", type=int, default=40, help="frames per export (64x64)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dir", help="where to export (default: a temp folder)")
    a = p.parse_args(argv)
    rng = random.Random(a.seed)
    for fmt in ("mp4", "png"):
        with tempfile.TemporaryDirectory(dir=a.dir) as tmp:
            folder = Path(tmp) / fmt
            folder.mkdir()
            print(run_case(folder, fmt, a.kills, a.frames, rng), flush=True)


if __name__ == "__main__":
    main()
