"""Broken and strange video files, as users meet them: the reader names the file and what is
wrong (never an AttributeError from deep inside PyAV), and every command that reads video says so
in one line on stderr with exit code 2 (bad input), writing nothing."""

import pytest

from t2vz_desktop.cli import main
from t2vz_desktop.media import MediaError, iter_frames, probe_video

# media-zoo file -> the words the user must read (MANIFEST.md)
REFUSED = {
    "damaged_stsd.mp4": "broken video file",  # PyAV opens it but gives codec_context=None
    "audio_only.mp4": "no video stream",
    "song_with_cover.mp4": "only cover art, no video",  # not a 1-frame 90000 fps clip
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_reader_refuses_with_a_message_naming_the_file(media_zoo, name):
    path = media_zoo / name
    for read in (lambda: probe_video(path), lambda: next(iter_frames(path, 0, 1))):
        with pytest.raises(MediaError) as err:
            read()
        assert REFUSED[name] in str(err.value) and str(path) in str(err.value)


def commands(source, out):
    return {
        "eval": ["eval", str(source), "--json", str(out / "m.json"), "--plot", str(out / "m.png")],
        "condition": ["condition", str(source), "--mode", "canny", "--out", str(out / "c.mp4"), "-q"],
        "compare": ["compare", str(source), str(source), "--out", str(out / "g.mp4")],
        "edit": ["edit", str(source), "--prompt", "a cat", "--mode", "canny", "--model", "demo",
                 "--device", "cpu", "--out", str(out / "e.mp4"), "-q"],
    }


@pytest.mark.parametrize("command", ["eval", "condition", "compare", "edit"])
@pytest.mark.parametrize("name", sorted(REFUSED))
def test_every_command_gives_exit_2_and_one_line(media_zoo, tmp_path, capsys, command, name):
    out = tmp_path / "out"
    out.mkdir()
    assert main(commands(media_zoo / name, out)[command]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("t2vz: error:") and REFUSED[name] in err[0], err
    assert list(out.iterdir()) == []  # nothing half-written


def test_bit_flipped_data_after_a_good_header_is_bad_input(tmp_path, capsys):
    """The header probes fine; the damage shows only while decoding (in the middle of the work)."""
    import numpy as np

    from t2vz_desktop.media import ExportOptions, export_video

    rng = np.random.default_rng(0)
    good = tmp_path / "good.mp4"
    export_video(iter([rng.integers(0, 255, (64, 96, 3), dtype=np.uint8) for _ in range(24)]), good, ExportOptions(fps=8))
    data = bytearray(good.read_bytes())
    for i in range(len(data) // 3, len(data), 97):
        data[i] ^= 0xFF
    bad = tmp_path / "flipped.mp4"
    bad.write_bytes(bytes(data))
    out = tmp_path / "out"
    out.mkdir()
    for command in ("eval", "condition"):
        assert main(commands(bad, out)[command]) == 2
        err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert len(err) == 1 and "broken video file" in err[0] and str(bad) in err[0], err
