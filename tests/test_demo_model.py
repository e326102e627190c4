"""The built-in demo model through the engine, measured on its own images: what the prompt names
(colour, shape), what the motion field and the camera ask for, what prompt travel and
image-to-video promise. Every figure is in its assertion message."""

from __future__ import annotations

import math
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from t2vz_desktop.demo_model import data
from t2vz_desktop.demo_model.evaluate import analyse, centroid, in_view, object_region, velocity
from t2vz_desktop.engine.camera import CameraKey
from t2vz_desktop.engine.paths import resources_dir
from t2vz_desktop.engine.request import GenerationRequest, PromptKey

COLOURS = list(data.COLOURS)
SIZE = data.IMAGE_SIZE  # the demo model's frames are SIZE x SIZE pixels
S = data.SCALE  # lengths below were first chosen on 64 px frames
# A candidate model can be checked before it replaces the committed one:
# T2VZ_TEST_DEMO_MODEL=/path/to/folder python -m pytest tests/test_demo_model.py
MODEL = os.environ.get("T2VZ_TEST_DEMO_MODEL", "demo")
MODEL_FOLDER = resources_dir() / "models" / "demo" if MODEL == "demo" else Path(MODEL)


@pytest.fixture(scope="module")
def cache():
    from t2vz_desktop.engine.jobs import ModelCache

    assert MODEL != "demo" or (resources_dir() / "models" / "demo" / "model_index.json").is_file(), "the demo model is committed"
    return ModelCache(capacity=1)


def generate(cache, prompts: list[str], **fields) -> list[list[np.ndarray]]:
    """Frames of every video, [video][frame] as (SIZE, SIZE, 3) uint8."""
    from t2vz_desktop.engine.jobs import run_generation

    result = run_generation(GenerationRequest(prompts=prompts, model=MODEL, **fields), cache=cache)
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
    """Frame 0 of one-frame videos for every colour with every shape, one seed each (40 images:
    4 a colour, 10 a shape; the model reaches 100% colour and 85-94% per shape on its card)."""
    scenes = [(colour, shape, COLOURS[(i + 3) % 10])
              for i, colour in enumerate(COLOURS) for shape in data.SHAPES]
    prompts = [f"a large {c} {s} on a {b} background" for c, s, b in scenes]
    videos = generate(cache, prompts, frames=1, seed=0)
    return [(scene, video[0]) for scene, video in zip(scenes, videos)]


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


# -------------------------------------------------------------------------- the evaluation's sample
#
# The model card's figures come from 120 videos (t2vz_desktop/demo_model/evaluate.py); these tests
# make 12 of the same videos (3 per shape) and hold them to a threshold less one video's worth.
# Issue 22's targets: object colour 95%, background 90%, every shape 80%, motion within 2 px a
# frame. The built-in model (the eleventh trial, shipped 2026-12-06: zero terminal SNR, v-prediction,
# bf16 forward pass; sampled with Euler ancestral, its t2vz.json, step noise shared by the frames)
# reaches colour 100%, background 100%, shape: circle 90%, square 85%, triangle 91%, star 94%,
# motion 91% (its card). Motion is held to the lower of the target and what it reaches.
TARGET = {"colour": 0.95, "background": 0.90, "shape": 0.80, "motion": 0.90}
REACHED = {"colour": 1.0, "motion": 0.91}


def threshold(name: str, kind: str, videos: int) -> float:
    return min(TARGET[kind], REACHED.get(name, 1.0)) - 1 / videos


@pytest.fixture(scope="module")
def sample_videos(cache):
    from t2vz_desktop.demo_model.evaluate import evaluation_scenes, make_videos

    every = evaluation_scenes()  # 10 colours x 4 shapes, colour-major
    scenes = [every[(j % 10) * 4 + j % 4] for j in range(12)]
    return make_videos(MODEL_FOLDER, scenes, seeds=1, cache=cache)


def test_sample_videos_draw_the_prompted_colour(sample_videos):
    from t2vz_desktop.demo_model.evaluate import summarise

    overall = summarise(sample_videos)["overall"]
    need = threshold("colour", "colour", len(sample_videos))
    assert overall["colour"] >= need, f"object colour {overall['colour']:.0%} over {len(sample_videos)} videos (need {need:.0%})"


def test_sample_videos_draw_the_prompted_background(sample_videos):
    from t2vz_desktop.demo_model.evaluate import summarise

    overall = summarise(sample_videos)["overall"]
    need = TARGET["background"] - 1 / len(sample_videos)
    assert overall["background"] >= need, f"background {overall['background']:.0%} (need {need:.0%})"


def test_sample_videos_draw_every_prompted_shape(sample_videos):
    from t2vz_desktop.demo_model.evaluate import summarise

    per = {shape: summarise(sample_videos)["per_name"][shape]["shape"] for shape in data.SHAPES}
    count = {shape: sum(v.scene.shape == shape for v in sample_videos) for shape in data.SHAPES}
    need = {s: TARGET["shape"] - 1 / count[s] for s in data.SHAPES}
    assert all(per[s] >= need[s] for s in data.SHAPES), f"shape read right per shape: {per}, need {need}"


def test_sample_videos_move_as_asked(sample_videos):
    from t2vz_desktop.demo_model.evaluate import summarise

    summary = summarise(sample_videos)
    measured = [v for v in sample_videos if v.velocity is not None]
    shown = [(v.motion, tuple(round(x, 1) for x in v.velocity)) for v in measured]
    assert len(measured) >= len(sample_videos) // 2, f"motion measurable in {len(measured)} of {len(sample_videos)}"
    assert summary["overall"]["motion"] >= threshold("motion", "motion", len(measured)), f"(asked, measured): {shown}"


def test_background_follows_the_caption_not_the_noise_mean():
    """Issue 22's cause, kept fixed: the model before drew whatever background the starting
    noise's per-channel mean suggested. Here the same prompt from noise whose channel means are
    set to +-2 standard errors of a mean (1/16 over 16x16 latents) keeps the prompted background."""
    import torch
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(MODEL_FOLDER, safety_checker=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    n = pipe.unet.config.sample_size
    readings = []
    for background in ("blue", "yellow", "black"):
        for seed in (0, 1, 2):
            noise = torch.randn((1, 4, n, n), generator=torch.Generator().manual_seed(seed))
            signs = torch.tensor([1.0, -1.0, 1.0, -1.0]).roll(seed).view(1, 4, 1, 1)
            latents = noise - noise.mean((2, 3), keepdim=True) + signs * 2 / n
            image = pipe(f"a large red circle on a {background} background", latents=latents, output_type="np",
                         num_inference_steps=20, guidance_scale=5.0).images[0]
            readings.append((background, analyse((image * 255).round().astype(np.uint8)).background))
    right = sum(a == b for a, b in readings)
    assert right >= len(readings) - 1, f"(prompted, drawn) backgrounds: {readings}"


# -------------------------------------------------------------------------- motion
#
# The model, not the prompt, decides where the object starts (it mostly ignores position words),
# and the camera is the same for every start: an object that starts at the right edge leaves
# the view after a frame of rightward motion, and one off-centre leaves it under a zoom. So these
# tests pick their seeds by frame 0 alone, before any motion, among those whose object the asked
# camera keeps wholly in view, and then measure what the later frames do.

CENTRE = (SIZE - 1) / 2  # the image centre, in pixels


_FIRST_FRAMES: dict[tuple[str, int], list[list[np.ndarray]]] = {}  # (prompt, first seed): 8 one-frame videos


def seeds_with_room(cache, prompt: str, fits, count: int, tries: int = 40) -> list[int]:
    """The first `count` seeds in 0..tries-1 whose frame 0 shows an object for which
    `fits(region)` holds (frame 0 of a video is the one-frame video of its seed). The stills are
    made once per prompt and batch of seeds for the tests that search the same prompt."""
    seeds: list[int] = []
    for start in range(0, tries, 8):  # in batches, stopping once enough are found
        if (prompt, start) not in _FIRST_FRAMES:  # video r: seed start + r
            _FIRST_FRAMES[prompt, start] = generate(cache, [prompt], frames=1, videos_per_prompt=8, seed=start)
        stills = _FIRST_FRAMES[prompt, start]
        seeds += [start + r for r, video in enumerate(stills) if (region := object_region(video[0])) is not None
                  and fits(region)]
        if len(seeds) >= count:
            return seeds[:count]
    raise AssertionError(f"only seeds {seeds} of 0..{tries - 1} start '{prompt}' where the camera keeps it in view")


def extent(region: np.ndarray) -> tuple[int, int, int, int]:
    """(x min, x max, y min, y max) of the region's pixels."""
    ys, xs = np.nonzero(region)
    return int(xs.min()), int(xs.max()), int(ys.min()), int(ys.max())


@pytest.mark.parametrize("dx", [2.0 * S, -2.0 * S])
def test_motion_moves_the_object_by_dx_per_frame(cache, dx):
    frames = 8
    travel = abs(dx) * (frames - 1) + 2  # the whole path, and a pixel of margin each side

    def room(region):
        x0, x1, _, _ = extent(region)
        return x1 + travel <= SIZE - 1 if dx > 0 else x0 - travel >= 0

    videos = []
    for prompt in ("a small red circle on a blue background", "a small yellow square on a purple background",
                   "a small green star on a white background"):
        for seed in seeds_with_room(cache, prompt, room, 2):
            videos += generate(cache, [prompt], frames=frames, motion=(dx, 0.0), seed=seed)
    tracks = [in_view(v) for v in videos]
    measured_tracks = [t for t in tracks if len(t) >= 4]
    assert len(measured_tracks) >= 4, f"object wholly in view for {[len(t) for t in tracks]} of 8 frames (>= 4 needed in 4 videos)"
    speeds = [velocity(t) for t in measured_tracks]
    measured = float(np.median([s[0] for s in speeds]))
    assert abs(measured - dx) <= 0.3 * abs(dx), \
        f"asked {dx:+.1f} px/frame, centroid moved {measured:+.2f} px/frame (median of {[round(s[0], 2) for s in speeds]})"
    drift = float(np.median([s[1] for s in speeds]))
    assert abs(drift) < 1.0, f"vertical drift {drift:+.2f} px/frame (median of {[round(s[1], 2) for s in speeds]})"


def test_a_clips_first_camera_key_regenerates_the_motion_it_was_made_with(cache):
    """B2 (issue 24): adding the first key on a clip's camera lane gave pan 0,0, and the
    re-generated take stood still. The lane now starts as the clip's own motion; re-made from
    those keys, the object moves as in the original take (centroid speed within 30%)."""
    from t2vz_desktop.app.project import MediaItem, Project
    from t2vz_desktop.engine.camera import CameraKey

    frames, dx = 8, 2.0 * S
    prompt = "a small red circle on a blue background"
    seed = seeds_with_room(cache, prompt, lambda r: extent(r)[1] + dx * (frames - 1) + 2 <= SIZE - 1, 1)[0]
    original = generate(cache, [prompt], frames=frames, motion=(dx, 0.0), seed=seed)[0]
    recipe = GenerationRequest(prompts=[prompt], model=MODEL, frames=frames, motion=(dx, 0.0), seed=seed)
    project = Project.new(SIZE, SIZE, fps=8)
    item = project.add_media(MediaItem("m", "gen.mp4", "gen.mp4", SIZE, SIZE, 8.0, frames, recipe=recipe.to_json(),
                                       generated=True))
    project.add_key(item.id, "camera", 4)
    path = [CameraKey(k["frame"], tuple(k["pan"]), k["zoom"], k["rotate"], k["ease"])
            for k in project.keys(item.id, "camera")]
    again = generate(cache, [prompt], frames=frames, camera=path, seed=seed)[0]
    speeds = [velocity(in_view(v))[0] for v in (original, again)]
    assert abs(speeds[0] - dx) <= 0.3 * dx, f"the original moved {speeds[0]:+.2f} px/frame"
    assert abs(speeds[1] - speeds[0]) <= 0.3 * dx, f"re-made from the lane: {speeds[1]:+.2f}, original {speeds[0]:+.2f}"


def test_cross_frame_attention_keeps_colour_and_size_steady(cache):
    # The eleventh trial's model keeps colour nearly steady without it (these 8 videos: 1.9 against 2.0
    # RGB levels, size 0.035 against 0.042, 2026-12-06), so the test takes four prompts, not two.
    prompts = ["a large green star on a white background", "a large orange circle on a black background",
               "a large blue square on a yellow background", "a large purple triangle on a gray background"]
    spread = {}
    for on in (True, False):
        videos = generate(cache, prompts, frames=8, motion=(1.0 * S, 0.0), videos_per_prompt=2, seed=3,
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


def test_zoom_in_keyframes_make_the_object_grow(cache):
    zoom = 1.8

    def room(region):  # zoomed about the centre, the object stays in the frame
        x0, x1, y0, y1 = extent(region)
        return max(abs(v - CENTRE) for v in (x0, x1, y0, y1)) * zoom + 1 <= CENTRE

    results = []
    for prompt in ("a small red square on a blue background", "a small white circle on a green background"):
        for seed in seeds_with_room(cache, prompt, room, 2):
            frames = generate(cache, [prompt], frames=8, camera=[CameraKey(0), CameraKey(7, zoom=zoom)], seed=seed)[0]
            areas = [area(f) for f in frames]
            grows = sum(b > a for a, b in zip(areas, areas[1:]))
            results.append((areas[-1] >= zoom * areas[0] and grows >= 5, [int(a) for a in areas]))
    assert all(ok for ok, _ in results), \
        f"object area per frame for zoom 1 -> {zoom} (area should grow ~{zoom ** 2:.1f}x, frame by frame): " \
        f"{[a for _, a in results]}"


def triangle_angle(image: np.ndarray) -> float | None:
    """Orientation of a triangle in degrees, counter-clockwise on screen, modulo 120 (its
    symmetry): the circular mean of its corners' directions from the centroid, taken three-fold."""
    region = object_region(image)
    if region is None:
        return None
    big = cv2.resize(region.astype(np.float32), None, fx=4, fy=4, interpolation=cv2.INTER_LINEAR) > 0.5
    contours, _ = cv2.findContours(big.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    contour = max(contours, key=cv2.contourArea)
    _, corners = cv2.minEnclosingTriangle(contour)
    corners = corners.reshape(-1, 2).astype(np.float64)
    centre = contour[:, 0, :].astype(np.float64).mean(0)
    angles = np.arctan2(-(corners[:, 1] - centre[1]), corners[:, 0] - centre[0])
    return math.degrees(math.atan2(np.sin(3 * angles).sum(), np.cos(3 * angles).sum())) / 3


def turned(a: float, b: float) -> float:
    """b - a for triangle angles, wrapped to [-60, 60)."""
    return (b - a + 60) % 120 - 60


def test_triangle_angle_reads_a_drawn_turn():
    """The measure itself, on the training renderer's triangle turned by OpenCV."""
    image = data.render(data.Scene("triangle", "yellow", "blue", "large", "centre"), np.random.default_rng(0))
    for turn in (-40.0, 25.0, 40.0):
        m = cv2.getRotationMatrix2D((CENTRE, CENTRE), turn, 1.0)  # positive: counter-clockwise on screen
        rotated = cv2.warpAffine(image, m, (SIZE, SIZE), borderMode=cv2.BORDER_REPLICATE)
        measured = turned(triangle_angle(image), triangle_angle(rotated))
        assert abs(measured - turn) < 5, f"turned {turn}, measured {measured:.1f}"


def test_rotation_path_turns_an_asymmetric_shape(cache):
    turn = 40.0
    prompt = "a large yellow triangle on a blue background"

    def room(region):  # turning about the centre keeps every pixel in the frame
        ys, xs = np.nonzero(region)
        return float(np.hypot(xs - CENTRE, ys - CENTRE).max()) + 1 <= CENTRE

    measured = []
    for seed in seeds_with_room(cache, prompt, room, 3):
        frames = generate(cache, [prompt], frames=8, camera=[CameraKey(0), CameraKey(7, rotate=turn)], seed=seed)[0]
        a, b = triangle_angle(frames[0]), triangle_angle(frames[-1])
        if a is not None and b is not None:
            measured.append(turned(a, b))
    median = float(np.median(measured)) if measured else float("nan")
    assert len(measured) >= 2 and abs(median - turn) <= 0.35 * turn, \
        f"asked {turn:.0f} degrees counter-clockwise, the triangle turned {[round(t) for t in measured]}"


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
    # Eight seeds, one of which may lose the star in a frame: seed 2 drew a stray speck beside it with
    # each frame's own step noise and lost it at frame 4 with the noise shared (step_noise.py);
    # one seed alone passed or failed by that chance.
    videos = generate(cache, ["a small pink star on a gray background"], frames=8, init_image=str(path),
                      camera=[CameraKey(0), CameraKey(7, pan=(21.0 * S, 0.0))], seed=0, videos_per_prompt=8)
    c0, moved = object_centre(start), []
    for frames in videos:
        quality = psnr(frames[0], start)
        assert quality > 25, f"frame 0 vs the start image: PSNR {quality:.1f} dB"
        c4 = object_centre(frames[4])
        moved.append((np.nan, np.nan) if c4 is None or analyse(frames[4]).colour != "pink"
                     else (c4[0] - c0[0], c4[1] - c0[1]))
    right = [abs(dx - 12.0 * S) <= 4.0 * S and abs(dy) <= 3.0 * S for dx, dy in moved]
    assert sum(right) >= 7, (f"frame 4 should show the star {12 * S:g} px right of the image's in 7 of 8 videos; "
                             f"moved {[(round(dx, 1), round(dy, 1)) for dx, dy in moved]}")


def background_rgb(image: np.ndarray) -> np.ndarray:
    """Mean colour outside the object and a border (where motion brings in reflections)."""
    region = object_region(image)
    outside = np.ones(image.shape[:2], bool) if region is None else ~region.astype(bool)
    b = round(4 * S)
    outside[:b], outside[-b:], outside[:, :b], outside[:, -b:] = False, False, False, False
    return image[outside].astype(np.float64).mean(0)


@pytest.mark.parametrize("start_bg,end_bg", [("pink", "white"), ("green", "black")])
def test_frames_between_a_start_and_an_end_image_go_from_one_to_the_other(cache, tmp_path, start_bg, end_bg):
    """Each frame between stays in the two images' colour range and moves toward the end image:
    frame 1 nearer the start, frame 6 nearer the end. Before, every frame between kept the start's
    content and the end image popped in at the last frame (frame 6 was 0.14 of the way).

    The pairs are ones whose in-between colours the demo model can draw: it knows ten flat
    colours, and a dissolve between two whose middle it never saw (orange to green, say) is drawn
    in a nearby known colour (yellow), which can lie outside the RGB range of the two."""
    paths = []
    for name, bg, seed in (("start", start_bg, 0), ("end", end_bg, 1)):
        image = data.render(data.Scene("circle", "red", bg, "large", "centre"), np.random.default_rng(seed))
        paths.append(tmp_path / f"{name}.png")
        cv2.imwrite(str(paths[-1]), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    start, end = (background_rgb(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)) for p in paths)
    low, high = np.minimum(start, end) - 8, np.maximum(start, end) + 8
    for seed in (0, 1):
        frames = generate(cache, ["a large red circle"], frames=8, init_image=str(paths[0]), end_image=str(paths[1]),
                          seed=seed)[0]
        colours = [background_rgb(f) for f in frames[1:-1]]
        shown = [tuple(int(c) for c in rgb) for rgb in colours]
        assert all(np.all((rgb >= low) & (rgb <= high)) for rgb in colours), \
            f"seed {seed}: background per frame {shown}, outside {start.astype(int)}..{end.astype(int)} +- 8"
        way = [float(np.dot(rgb - start, end - start) / np.dot(end - start, end - start)) for rgb in colours]
        assert way[0] < 0.5 < way[-1] and all(b >= a - 0.05 for a, b in zip(way, way[1:])), \
            f"seed {seed}: share of the way from start to end per frame between: {[round(w, 2) for w in way]}"


# -------------------------------------------------------------------------- background smoothing's mask


def test_subject_mask_from_cross_attention_covers_the_object(cache):
    """The foreground mask that background smoothing takes from the UNet's cross-attention to the
    subject words must cover the object that frame 0 shows."""
    from t2vz_desktop.engine.jobs import run_generation

    scores = []
    for prompt in ("a large red circle on a blue background", "a large white square on a black background",
                   "a large green star on a yellow background"):
        events = []
        result = run_generation(GenerationRequest(prompts=[prompt], model=MODEL, frames=2, seed=4,
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
