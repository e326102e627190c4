"""The built-in demo model through the engine, measured on its own images: what the prompt names
(colour, shape), what the motion field and the camera ask for, what prompt travel and
image-to-video promise. Every figure is in its assertion message."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from t2vz_desktop.demo_model import data
from t2vz_desktop.demo_model.evaluate import analyse, centroid, object_region
from t2vz_desktop.engine.camera import CameraKey
from t2vz_desktop.engine.paths import resources_dir
from t2vz_desktop.engine.request import GenerationRequest, PromptKey

COLOURS = list(data.COLOURS)
# The demo model was trained on objects at 9 fixed positions (+-1.5 px), 2 sizes (+-8%) and one
# orientation, and snaps what the motion field moves back toward those: the asked motion, zoom and
# rotation are only partly kept. These tests must pass once a model trained with
# `--placement continuous` is committed (strict: an unexpected pass fails, so the marks cannot
# outlive the flaw). A 94-minute run of that placement (2026-11-26) passed the rotation test but
# failed the shape test (48%: squares and triangles drawn as blobs), so it was not committed; a
# 107-minute run with a longer UNet phase passed shape (62%) and rotation but failed the subject
# mask (IoU 0.36), zoom, and rightward motion (objects started near the right edge), so neither was.
SNAPS = pytest.mark.xfail(strict=True, reason="demo model trained on 9 fixed positions, 2 sizes, upright shapes")


@pytest.fixture(scope="module")
def cache():
    from t2vz_desktop.engine.jobs import ModelCache

    assert (resources_dir() / "models" / "demo" / "model_index.json").is_file(), "the demo model is committed"
    return ModelCache(capacity=1)


def generate(cache, prompts: list[str], **fields) -> list[list[np.ndarray]]:
    """Frames of every video, [video][frame] as (64, 64, 3) uint8."""
    from t2vz_desktop.engine.jobs import run_generation

    result = run_generation(GenerationRequest(prompts=prompts, model="demo", **fields), cache=cache)
    videos = [list(result.frames(v)) for v in range(result.videos)]
    assert len(videos) == len(prompts) * fields.get("videos_per_prompt", 1)
    return videos


def object_centre(image: np.ndarray) -> tuple[float, float] | None:
    region = object_region(image)
    return None if region is None else centroid(region)


def area(image: np.ndarray) -> float:
    region = object_region(image)
    return 0.0 if region is None else float(region.sum())


def object_rgb(image: np.ndarray) -> np.ndarray | None:
    region = object_region(image)
    return None if region is None else image[region.astype(bool)].astype(np.float32).mean(0)


# -------------------------------------------------------------------------- what the prompt names


@pytest.fixture(scope="module")
def stills(cache):
    """Frame 0 of one-frame videos for every colour with every shape, 2 seeds each (80 images)."""
    scenes = [(colour, shape, COLOURS[(i + 3) % 10])
              for i, colour in enumerate(COLOURS) for shape in data.SHAPES]
    prompts = [f"a large {c} {s} on a {b} background" for c, s, b in scenes]
    videos = generate(cache, prompts, frames=1, videos_per_prompt=2, seed=0)
    return [(scene, video[0]) for scene, video in zip([s for s in scenes for _ in range(2)], videos)]


def test_frame0_has_the_prompted_colour(stills):
    hits = {c: [] for c in COLOURS}
    for (colour, _, _), image in stills:
        hits[colour].append(analyse(image).colour == colour)
    rate = np.mean([h for v in hits.values() for h in v])
    per = ", ".join(f"{c} {np.mean(v):.0%}" for c, v in hits.items())
    assert rate >= 0.8, f"colour accuracy {rate:.0%} over {len(stills)} images (need >= 80%): {per}"


def test_frame0_has_the_prompted_shape(stills):
    hits = {s: [] for s in data.SHAPES}
    for (_, shape, _), image in stills:
        hits[shape].append(analyse(image).shape == shape)
    rate = np.mean([h for v in hits.values() for h in v])
    per = ", ".join(f"{s} {np.mean(v):.0%}" for s, v in hits.items())
    assert rate >= 0.6, f"shape accuracy {rate:.0%} over {len(stills)} images (need >= 60%): {per}"


# -------------------------------------------------------------------------- motion


def in_view(frames: list[np.ndarray]) -> list[tuple[int, tuple[float, float]]]:
    """(frame, centroid) for the frames before the object first touches the image border or is
    lost: a clipped object's centroid is not the object's, and once it has left, the model draws
    a new one elsewhere (the prompt still asks for it)."""
    points = []
    for k, f in enumerate(frames):
        region = object_region(f)
        if region is None or region[0].any() or region[-1].any() or region[:, 0].any() or region[:, -1].any():
            break
        points.append((k, centroid(region)))
    return points


def velocity(points: list[tuple[int, tuple[float, float]]]) -> tuple[float, float]:
    """Least-squares centroid velocity (x, y) in px per frame."""
    k = np.array([p[0] for p in points], np.float64)
    xy = np.array([p[1] for p in points], np.float64)
    return float(np.polyfit(k, xy[:, 0], 1)[0]), float(np.polyfit(k, xy[:, 1], 1)[0])


# Measured while the object is wholly in view (the prompts leave its start to the model, and one
# that starts near the edge leaves the frame within a few frames of 2 px).
@pytest.mark.parametrize("dx", [pytest.param(2.0, marks=SNAPS), -2.0])
def test_motion_moves_the_object_by_dx_per_frame(cache, dx):
    videos = generate(cache, ["a small red circle on a blue background", "a small yellow square on a purple background",
                              "a small green star on a white background"],
                      frames=8, motion=(dx, 0.0), videos_per_prompt=2, seed=0)
    tracks = [in_view(v) for v in videos]
    measured_tracks = [t for t in tracks if len(t) >= 4]
    assert len(measured_tracks) >= 4, f"object wholly in view for {[len(t) for t in tracks]} of 8 frames (>= 4 needed in 4 videos)"
    speeds = [velocity(t) for t in measured_tracks]
    measured = float(np.median([s[0] for s in speeds]))
    assert abs(measured - dx) <= 0.3 * abs(dx), \
        f"asked {dx:+.1f} px/frame, centroid moved {measured:+.2f} px/frame (median of {[round(s[0], 2) for s in speeds]})"
    assert all(abs(s[1]) < 1.0 for s in speeds), f"vertical drift {[round(s[1], 2) for s in speeds]} px/frame"


def test_cross_frame_attention_keeps_colour_and_size_steady(cache):
    prompts = ["a large green star on a white background", "a large orange circle on a black background"]
    spread = {}
    for on in (True, False):
        videos = generate(cache, prompts, frames=8, motion=(1.0, 0.0), videos_per_prompt=2, seed=3,
                          cross_frame_attention=on)
        colour, size = [], []
        for frames in videos:
            rgbs = [c for f in frames if (c := object_rgb(f)) is not None]
            areas = [area(f) for f in frames]
            colour.append(float(np.linalg.norm(np.std(rgbs, axis=0))) if len(rgbs) > 1 else 255.0)
            size.append(float(np.std(areas) / max(np.mean(areas), 1.0)))
        spread[on] = (float(np.mean(colour)), float(np.mean(size)))
    (c_on, s_on), (c_off, s_off) = spread[True], spread[False]
    figures = f"colour std {c_on:.1f} vs {c_off:.1f} (RGB levels), relative size std {s_on:.3f} vs {s_off:.3f}"
    assert c_on < c_off and s_on < s_off, f"with vs without cross-frame attention: {figures}"


# -------------------------------------------------------------------------- camera paths


@SNAPS
def test_zoom_in_keyframes_make_the_object_grow(cache):
    videos = generate(cache, ["a small red square on a blue background", "a small white circle on a green background"],
                      frames=8, camera=[CameraKey(0), CameraKey(7, zoom=1.8)], seed=1)
    for frames in videos:
        areas = [area(f) for f in frames]
        grows = sum(b > a for a, b in zip(areas, areas[1:]))
        assert areas[-1] >= 1.8 * areas[0] and grows >= 5, \
            f"object area per frame {[int(a) for a in areas]} for zoom 1 -> 1.8 (area should grow ~3.2x)"


def orientation(image: np.ndarray) -> float | None:
    """Angle (degrees, counter-clockwise on screen) from the centroid to the farthest contour point:
    a triangle's apex."""
    region = object_region(image)
    if region is None:
        return None
    big = cv2.resize(region.astype(np.float32), None, fx=4, fy=4, interpolation=cv2.INTER_LINEAR) > 0.5
    contours, _ = cv2.findContours(big.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    c = max(contours, key=cv2.contourArea)[:, 0, :].astype(np.float64)
    centre = c.mean(0)
    far = c[np.argmax(((c - centre) ** 2).sum(1))]
    return math.degrees(math.atan2(-(far[1] - centre[1]), far[0] - centre[0]))


@SNAPS
def test_rotation_path_turns_an_asymmetric_shape(cache):
    turn = 40.0
    videos = generate(cache, ["a large yellow triangle on a blue background"], frames=8,
                      camera=[CameraKey(0), CameraKey(7, rotate=turn)], videos_per_prompt=3, seed=0)
    turned = []
    for frames in videos:
        a, b = orientation(frames[0]), orientation(frames[-1])
        if a is not None and b is not None:
            turned.append((b - a + 180) % 360 - 180)
    measured = float(np.median(turned))
    assert len(turned) >= 2 and abs(measured - turn) <= 0.35 * turn, \
        f"asked {turn:.0f} degrees counter-clockwise, the triangle's apex turned {[round(t) for t in turned]}"


# -------------------------------------------------------------------------- prompt travel


def test_keyed_prompts_change_colour_between_the_keys_and_not_before(cache):
    keys = [PromptKey(0, "a large red circle on a blue background"), PromptKey(4, "a large red circle on a blue background"),
            PromptKey(10, "a large yellow circle on a blue background")]
    videos = generate(cache, ["a large red circle on a blue background"], frames=12, prompt_keys=keys,
                      videos_per_prompt=2, seed=0)
    for frames in videos:
        names = [analyse(f).colour for f in frames]
        assert names[:5] == ["red"] * 5, f"before the change (frames 0-4) the circle is {names[:5]}"
        assert names[10:] == ["yellow"] * 2, f"at and after the yellow key (frames 10-11): {names[10:]}"
        green = [None if (c := object_rgb(f)) is None else round(float(c[1])) for f in frames]
        assert None not in (green[4], green[10]) and green[10] - green[4] > 100, \
            f"green channel per frame (red -> yellow raises it): {green}"


# -------------------------------------------------------------------------- image-to-video


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * math.log10(255.0**2 / max(mse, 1e-10))


def test_image_to_video_keeps_the_image_and_moves_its_object(cache, tmp_path):
    # An image drawn like the demo model's training images (its own samples re-encode poorly:
    # the UNet's latents lie off the encoder's range, 19 dB after a VAE round trip).
    start = data.render(data.Scene("star", "pink", "gray", "small", "centre"), np.random.default_rng(0))
    path = tmp_path / "start.png"
    cv2.imwrite(str(path), cv2.cvtColor(start, cv2.COLOR_RGB2BGR))
    frames = generate(cache, ["a small pink star on a gray background"], frames=8, init_image=str(path),
                      camera=[CameraKey(0), CameraKey(7, pan=(21.0, 0.0))], seed=2)[0]
    quality = psnr(frames[0], start)
    assert quality > 25, f"frame 0 vs the start image: PSNR {quality:.1f} dB"
    c0, c4 = object_centre(start), object_centre(frames[4])
    assert c0 is not None and c4 is not None and analyse(frames[4]).colour == "pink"
    assert abs((c4[0] - c0[0]) - 12.0) <= 4.0 and abs(c4[1] - c0[1]) <= 3.0, \
        f"frame 4 should show the star 12 px right of the image's: moved ({c4[0] - c0[0]:+.1f}, {c4[1] - c0[1]:+.1f})"


# -------------------------------------------------------------------------- background smoothing's mask


def test_subject_mask_from_cross_attention_covers_the_object(cache):
    """The foreground mask that background smoothing takes from the UNet's cross-attention to the
    subject words must cover the object that frame 0 shows."""
    from t2vz_desktop.engine.jobs import run_generation

    scores = []
    for prompt in ("a large red circle on a blue background", "a large white square on a black background",
                   "a large green star on a yellow background"):
        events = []
        result = run_generation(GenerationRequest(prompts=[prompt], model="demo", frames=2, seed=4,
                                                  background_smoothing=0.6), on_event=events.append, cache=cache)
        mask = [e.mask for e in events if e.kind == "step" and e.mask is not None][-1][0]  # frame 0, (16, 16)
        drawn = object_region(next(result.frames()))
        if drawn is None:
            continue
        predicted = cv2.resize(mask.astype(np.float32) / 255, drawn.shape[::-1], interpolation=cv2.INTER_LINEAR) > 0.5
        truth = drawn.astype(bool)
        scores.append(float((predicted & truth).sum() / max((predicted | truth).sum(), 1)))
    print(f"subject mask IoU per prompt: {[round(x, 2) for x in scores]}")
    assert len(scores) >= 2 and np.mean(scores) > 0.5, f"IoU of the attention mask with the drawn object: {scores}"
