"""Save time of a big project (3,000 generated media with real recipes + 30,000 clips), which
the GUI thread waits for on Save and on each autosave. Run from the checkout to measure:
    PYTHONPATH=$PWD python benchmarks/save_stall.py
"""

import tempfile
import time
from pathlib import Path

from t2vz_desktop.app.project import Clip, MediaItem, Project
from t2vz_desktop.engine.request import GenerationRequest


def big_project(folder: Path) -> Project:
    recipe = GenerationRequest(prompts=["a red ball rolling on a beach"], seed=3, width=512, height=512).to_json()
    p = Project.new(512, 512, 8)
    for i in range(3000):
        p.add_media(MediaItem(f"m{i}", str(folder / f"gen{i}.mp4"), f"gen{i}.mp4", 512, 512, 8.0, 80,
                              recipe=recipe, generated=True))
    p.tracks[-1].clips = [Clip(f"c{k}", f"m{k % 3000}", k * 10, 0, 10) for k in range(30000)]
    return p


def main() -> None:
    folder = Path(tempfile.mkdtemp())
    p = big_project(folder)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        p.save(folder / "big.t2vz")
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    Project.load(folder / "big.t2vz")
    print(f"save (GUI stall) best of 3: {min(times):.3f} s; load: {time.perf_counter() - start:.3f} s")


if __name__ == "__main__":
    main()
