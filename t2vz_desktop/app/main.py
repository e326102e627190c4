"""Start the desktop app: `python main.py`, the `t2vz-desktop` entry point, or `--self-test`
(opens the window offscreen, makes one short video through the worker thread, exits 0 on success)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="t2vz-desktop")
    parser.add_argument("project", nargs="?", help="a .t2vz project to open")
    parser.add_argument("--self-test", action="store_true", help="open offscreen, make one short video, exit")
    parser.add_argument("--model", default="demo", help="model for --self-test (default: the built-in demo)")
    args, qt_args = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    if args.self_test:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    started = time.perf_counter()

    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from .theme import apply_dark_theme
    from .window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0], *qt_args])
    app.setOrganizationName("t2vz")
    app.setApplicationName("t2vz-desktop")
    apply_dark_theme(app)
    if args.self_test:
        with tempfile.TemporaryDirectory() as tmp:  # leave the user's settings and autosaves alone
            settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.IniFormat)
            window = MainWindow(settings, Path(tmp) / "data")
            window.errors.install()
            window.show()
            return self_test(app, window, args.model, time.perf_counter() - started)
    window = MainWindow()
    window.errors.install()  # from here on every uncaught error is a dialog and a line in the log
    window.show()
    if args.project:
        window.open_project(Path(args.project))
    else:
        window.check_recovery()
    QTimer.singleShot(0, window.first_run_check)  # after the window is up: the dialog is not modal
    return app.exec()


def self_test(app, window, model: str, startup_s: float) -> int:
    """Generate a short clip through the real queue and worker thread; 0 if it reaches the timeline."""
    from PySide6.QtCore import QEventLoop, QTimer

    from .panel import demo_model_present

    from ..engine.system import first_run_report

    print(f"self-test: window shown in {startup_s:.2f} s (torch loaded: {'torch' in sys.modules})")
    report = first_run_report()
    print(f"self-test: first-run check: gpu {report['gpu']}, {len(report['models'])} Stable Diffusion model(s) "
          f"found, demo model offered: {report['offer_demo']}")
    if model == "demo" and not demo_model_present():
        print("self-test: FAILED - the built-in demo model is missing (resources/models/demo); "
              "make it with `python -m t2vz_desktop.demo_model.train`", file=sys.stderr)
        window.close()
        return 1
    outcome: dict = {}
    loop = QEventLoop()
    window.queue.job_finished.connect(lambda job, out: (outcome.update(ok=out), loop.quit()))
    window.queue.job_failed.connect(lambda job, msg: (outcome.update(error=msg), loop.quit()))
    window.queue.job_step.connect(lambda u: outcome.__setitem__("steps", outcome.get("steps", 0) + 1))
    panel = window.panel
    panel.prompt.setPlainText("a red circle on a blue background")
    panel.set_model(model)
    panel.frames.setValue(4)
    panel.steps.setValue(4)
    panel.seed_lock.setChecked(True)
    panel.request_generation()
    QTimer.singleShot(600_000, loop.quit)
    loop.exec()
    clips = sum(len(t.clips) for t in window.doc.project.tracks)
    window.doc.undo.setClean()  # nothing to save: the close must not ask
    window.close()
    app.processEvents()
    if "ok" not in outcome or clips != 1:
        print(f"self-test: FAILED - {outcome.get('error', 'no result within 10 minutes')}", file=sys.stderr)
        return 1
    out = outcome["ok"]
    print(f"self-test: OK - {out.frames} frames {out.width}x{out.height} in {out.seconds:.1f} s, "
          f"{outcome.get('steps', 0)} previews, clip on the timeline")
    return 0


if __name__ == "__main__":
    sys.exit(main())
