"""The post-process smoother: removes flicker on a moving object without ghosting it."""

import numpy as np

from t2vz_desktop.engine.smoother import smooth_frames


def square_frames(n=6, flicker=0):
    rng = np.random.default_rng(0)
    for i in range(n):
        f = np.full((48, 64, 3), 60, np.uint8)
        f[16:32, 8 + 4 * i : 24 + 4 * i] = 220
        noise = rng.integers(-flicker, flicker + 1, f.shape) if flicker else 0
        yield np.clip(f.astype(int) + noise, 0, 255).astype(np.uint8)


def test_strength_zero_is_the_identity():
    a, b = list(square_frames()), list(smooth_frames(square_frames(), 0.0))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_smoothing_cuts_flicker_and_keeps_the_moving_square_sharp():
    clean = list(square_frames())
    noisy = list(square_frames(flicker=20))
    smoothed = list(smooth_frames(iter(noisy), 1.0))
    assert len(smoothed) == len(noisy)
    err_noisy = np.mean([np.abs(n.astype(int) - c).mean() for n, c in zip(noisy, clean)])
    err_smooth = np.mean([np.abs(s.astype(int) - c).mean() for s, c in zip(smoothed, clean)])
    assert err_smooth < 0.75 * err_noisy, (err_smooth, err_noisy)
    # no ghost: the square stays where it is in each frame
    for i, s in enumerate(smoothed[1:-1], start=1):
        inside = s[18:30, 10 + 4 * i : 22 + 4 * i].mean()
        behind = s[18:30, 4 * i - 2 : 4 * i + 4].mean()  # just uncovered background
        assert inside > 180 and behind < 100, (i, inside, behind)


def test_one_and_two_frame_videos():
    one = list(smooth_frames(square_frames(1), 1.0))
    two = list(smooth_frames(square_frames(2), 1.0))
    assert len(one) == 1 and len(two) == 2
