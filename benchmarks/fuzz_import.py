"""Drop damaged media on the app, offscreen, and count what goes wrong.

    python benchmarks/fuzz_import.py              # 200 files
    python benchmarks/fuzz_import.py --count 40 --seed 1

Makes small valid clips with PyAV, damages them (truncated, bit-flipped, wrong extension, zero
frames, huge declared dimensions, audio-only, garbage, empty, a FIFO, a symlink loop, an
unreadable file), and drops each on the media bin of a main window in a child process (batches,
so a segfault is counted). Prints per kind: crashes, silent rejections (refused with no message),
GUI stalls over 1 s (50 ms heartbeat), clips added. Goal: 0 crashes, 0 silent, 0 stalls.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

KINDS = ["valid", "truncated", "bitflip", "wrong_ext", "zero_frames", "huge_dims", "audio_only",
         "garbage", "empty", "fifo", "symlink_loop", "unreadable"]


def make_files(folder: Path, count: int, seed: int) -> tuple[list[tuple[str, Path]], list[str]]:
    import av
    import numpy as np
    from test_app_fixtures import make_clip

    rng = np.random.default_rng(seed)
    seeds = [make_clip(folder / f"seed{i}{ext}", frames=8, tone_hz=440 if i % 2 else None)
             for i, ext in enumerate((".mp4", ".mkv", ".mov", ".webm"))]
    empty = folder / "zero.mp4"
    with av.open(str(empty), "w") as box:
        s = box.add_stream("libx264", rate=8)
        s.width, s.height = 64, 48
    if not empty.exists():  # PyAV writes nothing for a stream without packets: keep the ftyp box only
        empty.write_bytes(seeds[0].read_bytes()[:32])
    audio = folder / "audio.mp4"
    with av.open(str(audio), "w") as box:
        a = box.add_stream("aac", rate=48000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 48000, 0
        box.mux(a.encode(frame))
        box.mux(a.encode(None))
    files, skipped = [], []
    for n in range(count):
        kind = KINDS[n % len(KINDS)]
        src = seeds[n % len(seeds)]
        data = src.read_bytes()
        out = folder / f"f{n:03d}_{kind}{src.suffix}"
        if kind == "valid":
            out.write_bytes(data)
        elif kind == "truncated":
            out.write_bytes(data[: int(rng.integers(1, len(data)))])
        elif kind == "bitflip":
            b = bytearray(data)
            for i in rng.integers(0, len(b), int(rng.integers(1, 40))):
                b[i] ^= 1 << int(rng.integers(0, 8))
            out.write_bytes(bytes(b))
        elif kind == "wrong_ext":
            out = out.with_suffix((".webm", ".mkv", ".mp4", ".gif")[n % 4])
            out.write_bytes(data if n % 2 else b"\x89PNG\r\n\x1a\n" + bytes(rng.integers(0, 256, 500, dtype=np.uint8)))
        elif kind == "zero_frames":
            out = out.with_suffix(".mp4")
            out.write_bytes(empty.read_bytes())
        elif kind == "huge_dims":
            b = bytearray(seeds[0].read_bytes())
            i = b.find(b"avc1")
            b[i + 28 : i + 32] = b"\xff\xff\xff\xff"  # the sample entry says 65535 x 65535
            out = out.with_suffix(".mp4")
            out.write_bytes(bytes(b))
        elif kind == "audio_only":
            out = out.with_suffix(".mp4")
            out.write_bytes(audio.read_bytes())
        elif kind == "garbage":
            out.write_bytes(bytes(rng.integers(0, 256, int(rng.integers(10, 5000)), dtype=np.uint8)))
        elif kind == "empty":
            out.write_bytes(b"")
        elif kind == "fifo":
            os.mkfifo(out)
        elif kind == "symlink_loop":
            other = out.with_name(out.stem + "_b" + out.suffix)
            os.symlink(other, out)
            os.symlink(out, other)
        elif kind == "unreadable":
            if os.geteuid() == 0:
                skipped.append(f"{out.name}: unreadable file skipped (running as root, which reads everything)")
                continue
            out.write_bytes(data)
            out.chmod(0)
        files.append((kind, out))
    return files, skipped


def child(listing: Path, results: Path) -> None:
    """Drop each file on one window's media bin; append one JSON line per file."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QTimer, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    from t2vz_desktop.app.window import MainWindow

    app = QApplication.instance() or QApplication([])
    tmp = tempfile.mkdtemp()
    window = MainWindow(QSettings(str(Path(tmp) / "s.ini"), QSettings.IniFormat), Path(tmp) / "data")
    window.errors.install()  # as main() does: an escaping exception is a dialog, not a silent loss
    window.ask_match_format = lambda offer: False  # the first import's format question is modal: keep the project's
    window.show()
    beats: list[float] = []
    heartbeat = QTimer()
    heartbeat.timeout.connect(lambda: beats.append(time.perf_counter()))
    heartbeat.start(50)
    target = window.bin.viewport()
    with results.open("a") as out:
        for line in listing.read_text().splitlines():
            kind, path = line.split("\t")
            before = (len(window.doc.project.media), len(window.messages), window.errors.dialogs_opened)
            beats.append(time.perf_counter())
            mime = QMimeData()
            mime.setUrls([QUrl.fromLocalFile(path)])
            QApplication.sendEvent(target, QDragEnterEvent(QPoint(5, 5), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))
            QApplication.sendEvent(target, QDropEvent(QPointF(5, 5), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))
            end = time.perf_counter() + 0.1
            # A drop imports in the background (importer.py): wait for it, and for its thumbnails.
            while time.perf_counter() < end or window.imports.busy or window.bin.pending_thumbnails():
                app.processEvents()
                time.sleep(0.005)
            beats.append(time.perf_counter())
            stall = max(b - a for a, b in zip(beats, beats[1:]))
            beats[:] = beats[-1:]
            added = len(window.doc.project.media) - before[0]
            told = len(window.messages) > before[1] or window.errors.dialogs_opened > before[2]
            out.write(json.dumps({"kind": kind, "path": path, "added": added, "told": told, "stall_s": stall,
                                  "message": window.messages[-1] if told and window.messages else ""}) + "\n")
            out.flush()
            if window.errors.dialog is not None:
                window.errors.dialog.reject()
    window.doc.undo.setClean()
    window.close()
    window.queue.shutdown()


def run(count: int, seed: int, batch: int = 50) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files, skipped = make_files(folder, count, seed)
        results = folder / "results.jsonl"
        done: dict[str, dict] = {}
        crashes: list[tuple[str, str]] = []
        todo = list(files)
        while todo:
            chunk, todo = todo[:batch], todo[batch:]
            listing = folder / "listing.tsv"
            listing.write_text("\n".join(f"{k}\t{p}" for k, p in chunk))
            proc = subprocess.run([sys.executable, __file__, "--child", str(listing), str(results)],
                                  capture_output=True, text=True, timeout=600,
                                  env={**os.environ, "PYTHONPATH": str(ROOT)})
            for line in results.read_text().splitlines() if results.exists() else []:
                r = json.loads(line)
                done[r["path"]] = r
            if proc.returncode != 0:
                rest = [(k, p) for k, p in chunk if str(p) not in done]
                if rest:  # the first file without a result crashed the process
                    crashes.append((rest[0][0], str(rest[0][1])))
                    done[str(rest[0][1])] = {"kind": rest[0][0], "crash": True, "rc": proc.returncode}
                    todo = rest[1:] + todo
        table: dict[str, dict] = {}
        for kind, path in files:
            r = done.get(str(path), {"kind": kind, "crash": True})
            row = table.setdefault(kind, {"files": 0, "crashes": 0, "silent": 0, "stalls": 0, "added": 0})
            row["files"] += 1
            if r.get("crash"):
                row["crashes"] += 1
                continue
            row["added"] += r["added"]
            row["silent"] += int(not r["added"] and not r["told"])
            row["stalls"] += int(r["stall_s"] > 1.0)
        return {"table": table, "skipped": skipped, "crashes": crashes,
                "silent": [r for r in done.values() if not r.get("crash") and not r["added"] and not r["told"]]}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        child(Path(a.child[0]), Path(a.child[1]))
        return {}
    report = run(a.count, a.seed)
    print("| kind | files | crashes | silent | stalls > 1 s | clips added |")
    print("|------|-------|---------|--------|--------------|-------------|")
    total = {"files": 0, "crashes": 0, "silent": 0, "stalls": 0, "added": 0}
    for kind, row in report["table"].items():
        print(f"| {kind} | {row['files']} | {row['crashes']} | {row['silent']} | {row['stalls']} | {row['added']} |")
        for k in total:
            total[k] += row[k]
    print(f"| all | {total['files']} | {total['crashes']} | {total['silent']} | {total['stalls']} | {total['added']} |")
    for line in report["skipped"][:3]:
        print(f"skipped: {line}")
    if len(report["skipped"]) > 3:
        print(f"skipped: {len(report['skipped']) - 3} more unreadable file(s), same reason")
    report["total"] = total
    return report


if __name__ == "__main__":
    main()
