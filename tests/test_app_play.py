"""`t2vz-desktop --self-test --play SECONDS` (the packaging smoke test's playback check): the
timeline plays in a loop through the window's own play action, and the check passes only when
the monitor kept getting new frames."""

from __future__ import annotations

import pytest
from test_app_fixtures import make_clip, window  # noqa: F401 - the fixture

from t2vz_desktop.app.main import main, play_test


def test_play_loops_the_timeline_and_counts_new_frames(window, tmp_path, capsys):
    clip = make_clip(tmp_path / "a.mp4", frames=4)
    window.import_files([clip], track_id=window.doc.project.tracks[-1].id)
    assert play_test(window, 1.0)
    out = capsys.readouterr().out
    assert "self-test: play OK" in out
    advances = int(out.split(" advances")[0].rsplit(", ", 1)[1])
    assert advances >= 2  # the 4-frame clip was played past its end, from the top again
    assert not window.play_timer.isActive()  # stopped afterwards


def test_play_fails_when_no_frame_is_shown(window, capsys):
    assert not play_test(window, 0.3)  # an empty timeline: nothing advances
    assert "self-test: play FAILED" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--play", "5"], ["--self-test", "--play", "0"]])
def test_play_needs_the_self_test_and_a_positive_time(argv):
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 2


def test_main_py_sends_self_test_anywhere_to_the_app():
    """`python main.py --play 5 --self-test` went to the command line ("invalid choice: '5'"):
    only a first --self-test reached the app. Here the app's own one-line answer shows it got there."""
    import subprocess
    import sys
    from pathlib import Path

    main_py = Path(__file__).resolve().parents[1] / "main.py"
    done = subprocess.run([sys.executable, str(main_py), "--bogus", "--self-test"], capture_output=True, text=True,
                          timeout=120)
    err = [line for line in done.stderr.splitlines() if not line.startswith("[transformers]")]
    assert done.returncode == 2 and len(err) == 1 and err[0].startswith("t2vz-desktop: error: unrecognized"), err
