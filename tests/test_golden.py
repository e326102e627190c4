"""The engine makes the golden set's frames (tests/golden.py): every option on its own and all
together, on tiny weights and the demo model, within 1 level of the committed PNGs. 1 level, not
0: another CPU may sum in another order and round a float the other way; the bit-exact check of
a reshaping runs `tests/golden.py --compare` against the base commit on one machine."""

from __future__ import annotations

import numpy as np
import pytest

import golden


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    return golden.Assets(tmp_path_factory.mktemp("golden-assets"))


@pytest.fixture(scope="module")
def requests(assets):
    return golden.runs(assets)


def test_the_set_names_every_committed_run(requests):
    committed = {p.name for p in golden.GOLDEN.iterdir() if p.is_dir()}
    assert committed == set(requests), "re-make the set: python tests/golden.py --out tests/golden"


@pytest.mark.parametrize("name", sorted(p.name for p in golden.GOLDEN.iterdir() if p.is_dir()))
def test_frames_match_the_golden_set(name, requests, model_cache):
    expected = golden.load(golden.GOLDEN / name)
    frames = golden.render(requests[name], model_cache)
    assert frames.shape == expected.shape, f"{name}: {frames.shape} frames, the golden set has {expected.shape}"
    worst = int(np.abs(frames.astype(int) - expected.astype(int)).max())
    assert worst <= 1, f"{name}: frames differ from the golden set by up to {worst} levels"
