"""`--seeds S1,S2,...`: one video per seed in one job, each recipe naming its own seed and
re-making its video alone; bad lists are one line on stderr and exit 2 before any model loads."""

import json

import numpy as np
import pytest

from t2vz_desktop.cli import main
from t2vz_desktop.engine.request import GenerationRequest, RequestError
from t2vz_desktop.media import iter_frames


def args_for(out, *extra):
    return ["generate", "a red circle", "--model", "demo", "--frames", "2", "--steps", "2", "--device", "cpu",
            "--out", str(out), "-q", *extra]


def test_seeds_make_one_video_per_seed_and_each_recipe_remakes_its_own(tmp_path, capsys):
    out = tmp_path / "take"  # PNG folders: lossless, so frames compare exactly
    assert main(args_for(out, "--seeds", "3,7,11")) == 0
    written = capsys.readouterr().out.split()
    assert written == [str(tmp_path / f"take-{i:02d}") for i in (1, 2, 3)]
    recipes = [json.loads((tmp_path / w / "recipe.json").read_text()) for w in written]
    assert [r["seed"] for r in recipes] == [3, 7, 11]
    assert all(r["seeds"] is None and r["videos_per_prompt"] == 1 for r in recipes)
    takes = [list(iter_frames(tmp_path / w)) for w in written]
    assert not np.array_equal(takes[0][0], takes[1][0])  # different seeds, different pictures

    # the second take, re-made alone from its recipe, is the same video; so is a plain --seed 7
    assert main(["generate", "--recipe", str(tmp_path / written[1] / "recipe.json"), "--out", str(tmp_path / "again"),
                 "-q"]) == 0
    assert main(args_for(tmp_path / "plain", "--seed", "7")) == 0
    for other in ("again", "plain"):
        frames = list(iter_frames(tmp_path / other))
        assert all(np.array_equal(a, b) for a, b in zip(takes[1], frames))


BAD = {
    "not a number": (["--seeds", "3,x,5"], "whole numbers separated by commas"),
    "a fraction": (["--seeds", "3.5"], "whole numbers"),
    "an empty item": (["--seeds", "3,,5"], "whole numbers"),
    "a duplicate": (["--seeds", "3,7,3"], "seed 3 is given twice"),
    "negative": (["--seeds", "3,-1"], "between 0 and 2^63-1 (got -1)"),
    "too large": (["--seeds", str(2**63)], "between 0 and 2^63-1"),
    "too many": (["--seeds", ",".join(map(str, range(65)))], "1 to 64 seeds (got 65)"),
    "with --seed": (["--seeds", "3,7", "--seed", "1"], "drop --seed"),
    "with --videos-per-prompt": (["--seeds", "3,7", "--videos-per-prompt", "2"], "drop --videos-per-prompt"),
}


@pytest.mark.parametrize("name", BAD)
def test_a_bad_seed_list_is_one_line_and_exit_2(name, tmp_path, capsys, monkeypatch):
    import t2vz_desktop.engine.jobs as jobs

    monkeypatch.setattr(jobs, "run_generation", lambda *a, **k: pytest.fail("a model was loaded"))
    flags, words = BAD[name]
    assert main(args_for(tmp_path / "out.mp4", *flags)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("t2vz: error: ") and words in err[0]
    assert list(tmp_path.iterdir()) == []


def test_recipes_without_seeds_read_as_before_and_a_seed_list_is_checked_in_files():
    old = GenerationRequest(["a cat"], seed=4, videos_per_prompt=2).to_json()
    data = json.loads(old)
    del data["seeds"]  # a recipe from before the field
    r = GenerationRequest.from_json(json.dumps(data))
    assert r.seeds is None and r.video_seeds() == [4, 5]
    listed = GenerationRequest.from_json(GenerationRequest(["a cat"], seeds=[9, 2], videos_per_prompt=2).to_json())
    assert listed.resolve({}, 64).video_seeds() == [9, 2] and listed.resolve({}, 64).seed == 9
    data["seeds"] = [1, 1]
    data["seed"], data["videos_per_prompt"] = None, 2
    with pytest.raises(RequestError, match="seed 1 is given twice"):
        GenerationRequest.from_json(json.dumps(data))
    data["seeds"] = [1, 2, 3]
    with pytest.raises(RequestError, match="videos per prompt must be 3"):
        GenerationRequest.from_json(json.dumps(data))
