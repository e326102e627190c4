"""engine/jsonfile.py: a JSON file anyone may have written fails in one line naming the file."""

from __future__ import annotations

import pytest

from t2vz_desktop.engine.jsonfile import JsonFileError, read_json

CASES = {
    "cut short": (b'{"steps": 20, "guid', "is not valid JSON (line 1, column 15: Unterminated string"),
    "ends early": (b'{"steps": 20,\n', "the file ends early (cut short?)"),
    "not JSON": (b"steps = 20", "is not valid JSON (line 1, column 1: Expecting value)"),
    "not UTF-8": (b'{"name": "caf\xe9"}', "is not UTF-8 text (byte 13)"),
    "too deep": (b"[" * 100_000 + b"]" * 100_000, "is nested too deeply to read"),
}


@pytest.mark.parametrize("case", CASES)
def test_each_way_a_file_is_broken_is_one_line_naming_it(tmp_path, case):
    data, words = CASES[case]
    path = tmp_path / "settings.json"
    path.write_bytes(data)
    with pytest.raises(JsonFileError) as caught:
        read_json(path, "the settings")
    message = str(caught.value)
    assert message.startswith("the settings ") and words in message and "\n" not in message, message


def test_a_missing_file_and_a_folder_say_why_and_a_good_file_reads(tmp_path):
    with pytest.raises(JsonFileError, match=r"^cannot read .*none\.json: No such file or directory$"):
        read_json(tmp_path / "none.json")
    with pytest.raises(JsonFileError, match="^cannot read .*: Is a directory$"):
        read_json(tmp_path)
    (tmp_path / "ok.json").write_text('{"steps": 20, "name": "café"}', encoding="utf-8")
    assert read_json(tmp_path / "ok.json") == {"steps": 20, "name": "café"}
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf" + b'{"steps": 20}')  # as Notepad saves it
    assert read_json(tmp_path / "bom.json") == {"steps": 20}
