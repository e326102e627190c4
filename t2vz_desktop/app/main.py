"""Start the desktop app: `python main.py`, the `t2vz-desktop` entry point, or `--self-test`
(opens the window offscreen, makes one short video through the worker thread, exits 0 on success;
with `--play SECONDS` it then plays the timeline in a loop for that long, as a user would, and
exits 0 only if the process survived and the monitor kept showing new frames)."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from ..arguments import OneLineParser


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="t2vz-desktop")
    parser.add_argument("project", nargs="?", help="a .t2vz project to open")
    parser.add_argument("--self-test", action="store_true", help="open offscreen, make one short video, exit")
    parser.add_argument("--model", default="demo", help="model for --self-test (default: the built-in demo)")
    parser.add_argument("--play", type=float, metavar="SECONDS",
                        help="with --self-test: then play the timeline in a loop for SECONDS")
    args, qt_args = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    # The rest goes to Qt, whose options take one dash (-style fusion); a misspelt flag of ours
    # would otherwise be ignored silently (--self-test --bogus ran and passed).
    unknown = [a for a in qt_args if a.startswith("--") or (args.self_test and a.startswith("-"))]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)} (Qt's own options take one dash, e.g. -style fusion)")
    if args.play is not None and (not args.self_test or not 0 < args.play <= 3600):
        parser.error("--play SECONDS needs --self-test and 0 < SECONDS <= 3600")
    if args.self_test and args.model != "demo":
        # a wrong --model is bad input (exit 2, before the window); a missing built-in model is a
        # broken install, which the self-test itself reports as a failure (exit 1)
        from ..engine.models import ModelError, check_model

        try:
            check_model(args.model)  # as generate's preflight checks it
        except ModelError as e:
            parser.error(f"--model: {e}")
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
            return self_test(app, window, args.model, time.perf_counter() - started, args.play)
    window = MainWindow()
    window.errors.install()  # from here on every uncaught error is a dialog and a line in the log
    window.show()
    window.start_with(Path(args.project) if args.project else None)
    QTimer.singleShot(0, window.first_run_check)  # after the window is up: the dialog is not modal
    return app.exec()


def self_test(app, window, model: str, startup_s: float, play_s: float | None = None) -> int:
    """Generate a short clip through the real queue and worker thread; 0 if it reaches the timeline
    (and, with `play_s`, if playing it for that long then shows new frames)."""
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
    generated = "ok" in outcome and clips == 1
    if generated:
        out = outcome["ok"]
        print(f"self-test: OK - {out.frames} frames {out.width}x{out.height} in {out.seconds:.1f} s, "
              f"{outcome.get('steps', 0)} previews, clip on the timeline")
    played = play_test(window, play_s) if generated and play_s else True
    window.doc.undo.setClean()  # nothing to save: the close must not ask
    window.close()
    app.processEvents()
    if not generated:
        print(f"self-test: FAILED - {outcome.get('error', 'no result within 10 minutes')}", file=sys.stderr)
        return 1
    return 0 if played else 1


def play_test(window, seconds: float) -> bool:
    """Play the timeline in a loop for `seconds` (the window's own play action and timer) and count
    the pictures the monitor was given and painted; True if new frames kept coming."""
    from PySide6.QtCore import QEvent, QEventLoop, QObject, QTimer

    shown: list[int] = []  # the playhead of every picture handed to the monitor
    paints = [0]
    monitor = window.monitor
    show = monitor.show_timeline_frame

    def counting_show(frame, text: str = "") -> None:
        if frame is not None:
            shown.append(window.timeline.playhead)
        show(frame, text)

    class PaintCounter(QObject):
        def eventFilter(self, obj, event) -> bool:
            if event.type() == QEvent.Paint:
                paints[0] += 1
            return False

    counter = PaintCounter()
    monitor.view.installEventFilter(counter)
    monitor.show_timeline_frame = counting_show

    def keep_playing() -> None:  # the clip is short: start again from the top when it ends
        if not window.play_timer.isActive():
            window.timeline.set_playhead(0)
            window.toggle_play()

    loop = QEventLoop()
    again = QTimer()
    again.timeout.connect(keep_playing)
    again.start(20)
    keep_playing()
    started = time.perf_counter()
    QTimer.singleShot(round(seconds * 1000), loop.quit)
    loop.exec()
    again.stop()
    window.stop_playback()
    monitor.view.removeEventFilter(counter)
    del monitor.show_timeline_frame
    elapsed = time.perf_counter() - started
    fps = window.doc.project.fps
    advanced = sum(1 for a, b in zip(shown, shown[1:]) if a != b)
    ok = advanced >= max(2, seconds * fps / 4)  # a quarter of real time: slow machines pass, a stuck loop not
    print(f"self-test: play {'OK' if ok else 'FAILED'} - {elapsed:.1f} s of playback, {len(shown)} frames shown "
          f"({len(shown) / elapsed:.1f}/s at {fps:g} fps), {advanced} advances, {paints[0]} monitor paints",
          file=sys.stdout if ok else sys.stderr)
    return ok


if __name__ == "__main__":
    sys.exit(main())
