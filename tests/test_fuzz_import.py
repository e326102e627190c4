"""40 damaged media files (fixed seed) dropped on the app offscreen, each in a child process
batch: no crash, no file refused without a message, no GUI stall over 1 s, and every valid file
added (benchmarks/fuzz_import.py runs the 200-file table)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import fuzz_import  # noqa: E402


def test_forty_damaged_files_give_no_crash_no_silent_refusal_no_stall():
    report = fuzz_import.run(40, seed=1)
    table = report["table"]
    assert sum(r["crashes"] for r in table.values()) == 0, report["crashes"]
    assert sum(r["silent"] for r in table.values()) == 0, report["silent"]
    assert sum(r["stalls"] for r in table.values()) == 0
    assert table["valid"]["added"] == table["valid"]["files"]
    for kind in ("audio_only", "garbage", "empty", "fifo", "symlink_loop", "zero_frames"):
        assert table[kind]["added"] == 0, kind
