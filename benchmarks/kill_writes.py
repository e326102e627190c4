"""`kill -9` during real exports and project saves: does the pair under the final names always match?

    python benchmarks/kill_writes.py                 # 50 kills each: MP4 + sidecar, PNG folder, project save
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

The project case saves a project whose generated clips (and their sidecars) the save copies into
NAME_media/ before it writes the project file, killed the same way; it checks that the project
file is the old or the new one, that every clip it names is there whole (the bytes of its
source), and that the next save leaves no `.part` behind.
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


SAVE_CHILD = """
import sys
from pathlib import Path
from t2vz_desktop.app.project import MediaItem, Project
path, own, marker, n = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
p = Project.new(64, 64, 8)
for i in range(n):
    clip = own / f"{marker}-{i}.mp4"
    p.add_media(MediaItem(f"m{i}", str(clip), clip.name, 64, 64, 8.0, 10, recipe=None, generated=True))
print("ready", flush=True)
sys.stdin.readline()
p.save(path, own_media=(own,))
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


def run_to_end(child: subprocess.Popen) -> float:
    """Let a started child write, to its end; seconds from 'go' to 'done' (to place the kills)."""
    t0 = time.perf_counter()
    child.stdin.write("go\n")
    child.stdin.flush()
    assert child.stdout.readline().strip() == "done"
    took = time.perf_counter() - t0
    child.wait()
    return took


def kill_after(child: subprocess.Popen, seconds: float) -> None:
    """Let a started child write, and SIGKILL it `seconds` later."""
    child.stdin.write("go\n")
    child.stdin.flush()
    time.sleep(seconds)
    child.send_signal(signal.SIGKILL)
    child.wait()


def tally(counts: dict, problems: list[str], i: int, got: str | None, problem: str, previous: str, marker: str) -> str:
    """Count one round as old, new or mismatched; returns the marker now under the final names."""
    if got not in (previous, marker) or problem:
        counts["mismatched"] += 1
        problems.append(f"round {i}: {problem or got}")
        return previous
    counts["old" if got == previous else "new"] += 1
    return got


def export_seconds(folder: Path, fmt: str, n: int) -> float:
    """How long one export takes."""
    return run_to_end(start(folder / ("calibrate" if fmt == "png" else f"calibrate.{fmt}"), fmt, "calibrate", n))


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
        kill_after(child, (rng.uniform(0, 1.3) if i % 2 == 0 else rng.uniform(0.7, 1.2)) * duration)
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
        previous = tally(counts, problems, i, got, problem, previous, marker)
    label = "export mp4+json" if fmt != "png" else "export png folder"
    line = (f"{label}: {kills} kills, {counts['mismatched']} mismatched pairs, {counts['old']} old, "
            f"{counts['new']} new, {counts['leftovers']} with leftovers; {counts['journals']} left a commit journal (rolled forward), "
            f"{counts['before next start']} not whole or not matching until the next start, "
            f"{counts['finished by the kill']} finished before the kill; one export takes {duration * 1000:.0f} ms")
    return "\n".join([line, *("    " + p for p in problems)])


def start_save(path: Path, own: Path, marker: str, clips: int, size: int) -> subprocess.Popen:
    for i in range(clips):  # each round's clips differ in bytes and length, so a mix shows
        (own / f"{marker}-{i}.mp4").write_bytes(os.urandom(size + i))
        (own / f"{marker}-{i}.json").write_text(recipe(marker, i))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    child = subprocess.Popen([sys.executable, "-c", SAVE_CHILD, str(path), str(own), marker, str(clips)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    assert child.stdout.readline().strip() == "ready"
    return child


def save_state(path: Path, own: Path) -> tuple[str | None, str]:
    """(marker, problem): the marker of the saved project if it and every clip it names are whole."""
    from t2vz_desktop.app.project import Project

    try:
        project = Project.load(path)
    except Exception as e:  # noqa: BLE001 - any failure to read is what we count
        return None, f"the project does not load: {e}"
    markers = {m.name.split("-")[0] for m in project.media.values()}
    if len(markers) != 1:
        return None, f"clips of several saves: {sorted(markers)}"
    for item in project.media.values():
        clip = Path(item.path)
        if not clip.is_file() or clip.read_bytes() != (own / item.name).read_bytes():
            return None, f"{item.name} is missing or not whole"
        sidecar = clip.with_suffix(".json")
        if not sidecar.is_file() or sidecar.read_text() != (own / sidecar.name).read_text():
            return None, f"the sidecar of {item.name} is missing or not whole"
    return markers.pop(), ""


def run_save_case(folder: Path, kills: int, clips: int, size: int, rng: random.Random) -> str:
    from t2vz_desktop.app.project import media_folder

    own, path = folder / "generated", folder / "film.t2vz"
    own.mkdir()
    duration = run_to_end(start_save(path, own, "start", clips, size))
    previous = "start"
    counts = {"old": 0, "new": 0, "mismatched": 0, "leftovers": 0, "killed with .part": 0}
    problems = []
    for i in range(kills):
        marker = f"round{i}"
        kill_after(start_save(path, own, marker, clips, size), rng.uniform(0, 1.3) * duration)
        got, problem = save_state(path, own)
        previous = tally(counts, problems, i, got, problem, previous, marker)
        if problem or got is None:
            continue
        from t2vz_desktop.app.project import Project

        def parts_left() -> list[str]:
            return [n for d in (folder, media_folder(path)) if d.is_dir() for n in os.listdir(d) if n.endswith(".part")]

        counts["killed with .part"] += bool(parts_left())
        # The next save (here: of the project as it now stands) removes the killed one's leftovers.

        Project.load(path).save(path, own_media=(own,))
        counts["leftovers"] += bool(parts_left())
    line = (f"project save ({clips} clips of {size // 1024} KiB + sidecars, then the project file): {kills} kills, "
            f"{counts['mismatched']} mismatched, {counts['old']} old, {counts['new']} new, "
            f"{counts['killed with .part']} kills left .part files, {counts['leftovers']} still there after the next save; one save takes {duration * 1000:.0f} ms")
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
    with tempfile.TemporaryDirectory(dir=a.dir) as tmp:
        print(run_save_case(Path(tmp), a.kills, 4, 4 * 2**20, rng), flush=True)


if __name__ == "__main__":
    main()
