"""Interrupted writes keep the old or the new: a kill between the renames of a video and its
sidecar, during a PNG-folder re-export or an eval, leaves a matching pair under the final names
once the next run starts; leftovers of a killed run go; a failed export on a full disk leaks no
file descriptor."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from t2vz_desktop.media import ExportOptions, check_target, export_video, probe_video, read_metadata

OLD = json.dumps({"t2vz_recipe": 1, "marker": "old"})
NEW = json.dumps({"t2vz_recipe": 1, "marker": "new"})


def frames(n: int, value: int = 0):
    return (np.full((32, 48, 3), (value + 30 * i) % 256, np.uint8) for i in range(n))


def kill_at_replace(monkeypatch, call: int) -> None:
    """os.replace acts as usual until call number `call`, which kills the process (SystemExit)."""
    real, count = os.replace, [0]

    def replace(src, dst):
        count[0] += 1
        if count[0] >= call:
            raise SystemExit(f"killed at rename {count[0]}")
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)


def next_start(path: Path, fmt: str) -> None:
    """What the next export to `path` does first, before any frame (CLI, app and jobs alike)."""
    check_target(path, fmt)


def pair_of(video: Path) -> tuple[str, str]:
    """The marker of the recipe embedded in the video and of its sidecar."""
    embedded = json.loads(read_metadata(video)["comment"])["marker"]
    sidecar = json.loads(video.with_suffix(".json").read_text())["marker"]
    return embedded, sidecar


@pytest.mark.parametrize("call", [1, 2])  # before the video's rename, between the two
def test_a_kill_between_video_and_sidecar_leaves_a_matching_pair(tmp_path, monkeypatch, call):
    video = tmp_path / "clip.mp4"
    export_video(frames(3), video, ExportOptions(metadata=OLD))
    kill_at_replace(monkeypatch, call)
    with pytest.raises(SystemExit):
        export_video(frames(5, 100), video, ExportOptions(metadata=NEW))
    monkeypatch.undo()  # the process is gone; the user runs the next export or opens the file

    next_start(tmp_path / "clip.mp4", "mp4")
    embedded, sidecar = pair_of(video)
    assert embedded == sidecar, f"kill at rename {call}: the video holds {embedded}, its sidecar {sidecar}"
    assert probe_video(video).frames == {"old": 3, "new": 5}[embedded]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.json", "clip.mp4"]  # no leftovers


def test_the_pair_is_finished_for_a_reader_too(tmp_path, monkeypatch):
    """A GIF has no embedded recipe: opening it right after a kill must not show the old recipe."""
    from t2vz_desktop.media import read_recipe

    gif = tmp_path / "anim.gif"
    export_video(frames(3), gif, ExportOptions(metadata=OLD))
    kill_at_replace(monkeypatch, 2)  # after the GIF is in place, before its sidecar is
    with pytest.raises(SystemExit):
        export_video(frames(5, 100), gif, ExportOptions(metadata=NEW))
    monkeypatch.undo()
    assert json.loads(read_recipe(gif))["marker"] == "new"
    assert probe_video(gif).frames == 5


def test_a_job_of_two_videos_appears_all_together(tmp_path, monkeypatch):
    """Videos of one job: a kill after the first is in place must not leave one new, one old."""
    from t2vz_desktop.media import AtomicGroup, write_export

    paths = [tmp_path / "clip-01.mp4", tmp_path / "clip-02.mp4"]
    for p in paths:
        export_video(frames(3), p, ExportOptions(metadata=OLD))
    kill_at_replace(monkeypatch, 3)  # two renames done: clip-01 and its sidecar
    with pytest.raises(SystemExit):
        with AtomicGroup() as group:
            for p in paths:
                write_export(frames(5, 100), p, ExportOptions(metadata=NEW), group)
    monkeypatch.undo()
    next_start(paths[0], "mp4")
    assert [pair_of(p) for p in paths] == [("new", "new"), ("new", "new")]


def png_folder(folder: Path) -> tuple[str, int]:
    names = sorted(p.name for p in folder.iterdir())
    marker = json.loads((folder / "recipe.json").read_text())["marker"]
    return marker, len([n for n in names if n.startswith("frame_")])


def exchange_works(tmp_path: Path) -> bool:
    from t2vz_desktop.media import atomic

    a, b = tmp_path / "probe_a", tmp_path / "probe_b"
    a.mkdir(), b.mkdir()
    try:
        return atomic._exchange(a, b)
    finally:
        a.rmdir(), b.rmdir()


@pytest.mark.parametrize("call", [1, 2])
def test_re_exporting_a_png_folder_never_leaves_its_name_missing(tmp_path, monkeypatch, call):
    if not exchange_works(tmp_path):
        pytest.skip("this system or file system cannot swap two folders in one step (renameat2)")
    folder = tmp_path / "frames"
    export_video(frames(3), folder, ExportOptions(format="png", metadata=OLD))
    kill_at_replace(monkeypatch, call)  # and while the replaced export is deleted:
    monkeypatch.setattr(shutil, "rmtree", lambda *a, **k: (_ for _ in ()).throw(SystemExit("killed")))
    with pytest.raises(SystemExit):
        export_video(frames(5, 100), folder, ExportOptions(format="png", metadata=NEW))
    monkeypatch.undo()
    # Right after the kill, before any clean-up: the final name holds one whole export.
    assert png_folder(folder) in (("old", 3), ("new", 5))
    next_start(folder, "png")
    assert [p.name for p in tmp_path.iterdir()] == ["frames"]


@pytest.mark.parametrize("call", [1, 2])  # old one aside, new one in
def test_without_a_folder_swap_the_next_start_finishes_the_png_folder(tmp_path, monkeypatch, call):
    """Where renameat2 is refused (other systems), old aside + new in is journaled."""
    from t2vz_desktop.media import atomic

    folder = tmp_path / "frames"
    export_video(frames(3), folder, ExportOptions(format="png", metadata=OLD))
    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    kill_at_replace(monkeypatch, call)
    with pytest.raises(SystemExit):
        export_video(frames(5, 100), folder, ExportOptions(format="png", metadata=NEW))
    monkeypatch.undo()
    next_start(folder, "png")
    assert png_folder(folder) in (("old", 3), ("new", 5))
    assert [p.name for p in tmp_path.iterdir()] == ["frames"]


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_the_next_export_removes_leftovers_of_a_dead_run_only(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.2)  # the leftovers below are written after it started
        dead, live = dead_pid(), sleeper.pid
        names = {
            f".clip.mp4.{dead}-0123abcd.part": False,  # a killed export's half video
            f".clip.json.{dead}-0123abcd.part": False,  # and its sidecar
            f".clip.mp4.{live}-89abcdef.part": True,  # another export, still running
            f".other.mp4.{dead}-0123abcd.part": True,  # another name: its own export cleans it
            ".clip.mp4.notours.part": True,  # not our naming
        }
        for name in names:
            (tmp_path / name).write_bytes(b"half")
        reused = tmp_path / f".clip.mp4.{live}-deadbeef.part"  # the pid was reused since
        reused.write_bytes(b"half")
        os.utime(reused, (time.time() - 3600, time.time() - 3600))
        names[reused.name] = False

        export_video(frames(3), tmp_path / "clip.mp4", ExportOptions(metadata=OLD))
        kept = {p.name for p in tmp_path.iterdir()}
        for name, keep in names.items():
            assert (name in kept) == keep, name
    finally:
        sleeper.kill()
        sleeper.wait()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def full_disk(tmp_path):
    """A 256 KiB tmpfs, filled up."""
    if not sys.platform.startswith("linux"):
        pytest.skip("counting descriptors and mounting a tmpfs need Linux")
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tiny tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    try:
        with open(disk / "filler", "wb") as f:
            f.write(b"x" * 300_000)
    except OSError:
        pass
    yield disk
    subprocess.run(["umount", "-l", str(disk)], capture_output=True)  # -l: even if a leak holds it


@pytest.mark.parametrize("fmt", ["mp4", "webm", "gif"])
def test_a_failed_export_on_a_full_disk_closes_its_file(full_disk, fmt):
    recipe = json.dumps({"t2vz_recipe": 1, "notes": "x" * 100_000})  # big enough to need the disk at once
    before = open_fds()
    for _ in range(3):
        with pytest.raises(OSError):
            export_video(frames(4), full_disk / f"clip.{fmt}", ExportOptions(metadata=recipe))
    assert open_fds() == before, "each failed export left a descriptor open"
    assert sorted(p.name for p in full_disk.iterdir()) == ["filler"]


@pytest.mark.parametrize("kill", ["plot", "rename"])
def test_eval_writes_its_json_and_plot_as_one_pair(tmp_path, monkeypatch, kill):
    from t2vz_desktop.cli import main
    from t2vz_desktop.measure import plot

    video = export_video(frames(4), tmp_path / "clip.mp4").path
    json_out, plot_out = tmp_path / "clip.metrics.json", tmp_path / "clip.metrics.png"
    json_out.write_text('{"video": "an earlier run"}')
    plot_out.write_bytes(b"an earlier plot")
    if kill == "plot":  # killed while drawing the plot, after the JSON is written
        monkeypatch.setattr(plot.cv2, "imencode", lambda *a: (_ for _ in ()).throw(SystemExit("killed")))
    else:
        kill_at_replace(monkeypatch, 2)
    with pytest.raises(SystemExit):
        main(["eval", str(video)])
    monkeypatch.undo()
    check_target(json_out, "mp4")  # the next eval's first step (its output check)
    old_json = json.loads(json_out.read_text())["video"] == "an earlier run"
    old_plot = plot_out.read_bytes() == b"an earlier plot"
    assert old_json == old_plot, f"the JSON is {'old' if old_json else 'new'}, the plot {'old' if old_plot else 'new'}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.metrics.json", "clip.metrics.png", "clip.mp4"]


def test_atomic_write_text_keeps_the_old_file_on_a_kill(tmp_path, monkeypatch):
    from t2vz_desktop.media import atomic_write_text

    target = tmp_path / "notes.txt"
    target.write_text("old")
    kill_at_replace(monkeypatch, 1)
    with pytest.raises(SystemExit):
        atomic_write_text(target, "new")
    monkeypatch.undo()
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
