"""Bad flags are refused before any model loads, and the refusal is the only line on stderr (no
status lines first, without -q too); settings that work but are probably not meant get a
warning line instead of silence."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from t2vz_desktop.cli import main
from t2vz_desktop.engine import jobs
from t2vz_desktop.media import ExportOptions, export_video


@pytest.fixture
def no_model_load(monkeypatch):
    """Fail the test if anything gets as far as loading a model or a ControlNet."""
    loads = []

    def refuse(*args, **kwargs):
        loads.append(args)
        raise RuntimeError("a model was loaded before the input was checked")

    monkeypatch.setattr(jobs.ModelCache, "get", refuse)
    monkeypatch.setattr(jobs.ModelCache, "get_net", refuse)
    monkeypatch.setattr(jobs, "load_model", refuse)
    return loads


def video(path, frames=6):
    """A small real MP4 (a square moving right), written by the project's own exporter."""
    def make():
        for i in range(frames):
            image = np.zeros((48, 64, 3), np.uint8)
            image[14:34, 4 + 4 * i : 24 + 4 * i] = 255
            yield image

    export_video(make(), path, ExportOptions(fps=8))
    return path


def generate_args(model, out):  # no -q: the status lines would show
    return ["generate", "a red circle", "--model", str(model), "--width", "32", "--height", "24",
            "--frames", "6", "--steps", "4", "--seed", "5", "--device", "cpu", "--out", str(out)]


def edit_args(model, source, out, *extra):
    return ["edit", str(source), "-p", "a blue square", "--model", str(model), "--steps", "3", "--seed", "1",
            "--device", "cpu", "--out", str(out), *extra]


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("t2vz: error: "), err
    return lines[0]


def _generate_cases(tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    (tmp_path / "style.txt").write_text("not a LoRA")
    (tmp_path / "clip-02.mp4").mkdir()  # the second numbered output is taken by a folder
    start = tmp_path / "start.png"
    import cv2

    cv2.imwrite(str(start), np.full((24, 32, 3), 128, np.uint8))
    return {
        "missing --image": (["--image", str(tmp_path / "none.png")], "none.png"),
        "unreadable --image": (["--image", str(tmp_path / "notes.png")], "notes.png"),
        "missing --end-image": (["--image", str(start), "--end-image", str(tmp_path / "end.png")], "end.png"),
        "missing --lora": (["--lora", str(tmp_path / "none.safetensors"), "0.8"], "none.safetensors"),
        "--lora not safetensors": (["--lora", str(tmp_path / "style.txt"), "0.8"], "style.txt"),
        "width not a multiple of 8": (["--width", "30"], "--width"),
        "--camera with --motion": (["--camera", "0", "--camera", "5:pan=10/0", "--motion", "3", "0"], "--motion"),
        "numbered output taken": (["--out", str(tmp_path / "clip.mp4"), "--videos-per-prompt", "2"], "clip-02.mp4"),
        "output folder missing": (["--out", str(tmp_path / "no" / "clip.mp4")], "does not exist"),
        # a newcomer's WebM was written into clip.mp4, exit 0
        "--format against the name": (["--format", "webm"], "clip.mp4 as webm: the name says mp4"),
        "--format into a folder's name": (["--format", "mp4", "--out", str(tmp_path / "new") + "/"],
                                          "a name ending in / is a folder"),
    }


@pytest.mark.parametrize("case", ["missing --image", "unreadable --image", "missing --end-image", "missing --lora",
                                  "--lora not safetensors", "width not a multiple of 8", "--camera with --motion",
                                  "numbered output taken", "output folder missing", "--format against the name",
                                  "--format into a folder's name"])
def test_bad_generate_flags_are_one_line_before_any_model_loads(tiny_folder, tmp_path, capsys, no_model_load, case):
    extra, named = _generate_cases(tmp_path)[case]
    before = set(tmp_path.iterdir())
    assert main(generate_args(tiny_folder, tmp_path / "clip.mp4") + extra) == 2
    assert named in one_error_line(capsys)
    assert no_model_load == []
    assert set(tmp_path.iterdir()) == before


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA, so --device cuda is not bad input")
def test_cuda_without_cuda_is_refused_before_loading(tiny_folder, tmp_path, capsys, no_model_load):
    args = generate_args(tiny_folder, tmp_path / "clip.mp4")
    args[args.index("--device") + 1] = "cuda"
    assert main(args) == 2
    assert "cuda" in one_error_line(capsys)
    assert no_model_load == []


def _edit_cases(tmp_path, tiny_folder):
    source = video(tmp_path / "source.mp4")
    short = video(tmp_path / "short.mp4", frames=3)
    (tmp_path / "notes.mp4").write_text("not a video")
    return source, {
        "missing source": (["--mode", "canny"], tmp_path / "none.mp4", "none.mp4"),
        "unreadable source": (["--mode", "canny"], tmp_path / "notes.mp4", "notes.mp4"),
        "missing --condition": (["--mode", "pose", "--condition", str(tmp_path / "skel.mp4")], source, "skel.mp4"),
        "--condition of another length": (["--mode", "pose", "--condition", str(short)], source, "short.mp4"),
        "missing --controlnet folder": (["--mode", "canny", "--controlnet", str(tmp_path / "cn")], source, "cn"),
        "--controlnet not in the cache": (["--mode", "canny", "--controlnet", "nobody/no-controlnet"], source,
                                          "t2vz models download nobody/no-controlnet"),
        "start past the end": (["--mode", "canny", "--start", "50"], source, "start 50"),
        "pix2pix with a text-to-image model": (["--mode", "pix2pix"], source, "Instruct-Pix2Pix"),
    }


@pytest.mark.parametrize("case", ["missing source", "unreadable source", "missing --condition",
                                  "--condition of another length", "missing --controlnet folder",
                                  "--controlnet not in the cache", "start past the end",
                                  "pix2pix with a text-to-image model"])
def test_bad_edit_inputs_are_one_line_before_any_model_loads(tiny_folder, tmp_path, capsys, no_model_load, case):
    _, cases = _edit_cases(tmp_path, tiny_folder)
    extra, source, named = cases[case]
    before = set(tmp_path.iterdir())
    assert main(edit_args(tiny_folder, source, tmp_path / "out.mp4", *extra)) == 2
    assert named in one_error_line(capsys)
    assert no_model_load == []
    assert set(tmp_path.iterdir()) == before


def test_pix2pix_without_its_model_names_the_download_not_the_demo(tmp_path, capsys, no_model_load):
    from huggingface_hub import try_to_load_from_cache

    from t2vz_desktop.engine.request import INSTRUCT_MODEL

    if isinstance(try_to_load_from_cache(INSTRUCT_MODEL, "model_index.json"), str):
        pytest.skip(f"{INSTRUCT_MODEL} is in this machine's cache")
    source = video(tmp_path / "source.mp4")
    assert main(["edit", str(source), "--mode", "pix2pix", "-p", "make it snowy", "--out", str(tmp_path / "o.mp4")]) == 2
    line = one_error_line(capsys)
    assert f"t2vz models download {INSTRUCT_MODEL}" in line and "--model demo" not in line  # the demo cannot edit


def test_missing_hub_model_names_the_command_that_fetches_it(tmp_path, capsys, no_model_load):
    assert main(["generate", "x", "--model", "nobody/no-such-model", "--out", str(tmp_path / "o.mp4")]) == 2
    assert "`t2vz models download nobody/no-such-model`" in one_error_line(capsys)


def test_fp16_and_offload_on_the_cpu_say_so(tiny_folder, tmp_path, capsys):
    out = tmp_path / "clip.mp4"
    assert main(generate_args(tiny_folder, out) + ["--dtype", "fp16", "--offload"]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("t2vz: warning: ")]
    assert any("fp16" in w and "slower" in w for w in warnings), warnings
    assert any("--offload" in w and "ignored" in w for w in warnings), warnings


def test_a_controlnet_made_for_another_base_model_is_refused_before_any_load(tmp_path, capsys, no_model_load,
                                                                               tiny_folder):
    """B8 (issue 24; issue 19 item 6): an SD 1.5-shaped ControlNet on the demo model ran ~40 s and
    then failed with a raw tensor-size error (exit 1). One function in the engine compares the
    ControlNet's configuration with the base model's UNet, for the CLI and the app."""
    from diffusers import ControlNetModel, UNet2DConditionModel

    net = ControlNetModel.from_unet(UNet2DConditionModel.from_pretrained(tiny_folder / "unet"),
                                    conditioning_embedding_out_channels=(8, 16))
    net.save_pretrained(tmp_path / "controlnet")  # made for the tiny model: text width 32, latent scale 2
    source = video(tmp_path / "src.mp4")
    args = edit_args("demo", source, tmp_path / "o.mp4", "--mode", "canny", "--controlnet", str(tmp_path / "controlnet"))
    assert main(args) == 2 and not no_model_load
    line = one_error_line(capsys)
    assert "does not fit the built-in demo model" in line and "text" in line  # text width 32 against 64
    assert not (tmp_path / "o.mp4").exists()
    from t2vz_desktop.engine.control import check_controlnet_fits

    check_controlnet_fits(str(tmp_path / "controlnet"), str(tiny_folder))  # its own base model: fits


@pytest.mark.parametrize("mode", ["pose", "depth"])
def test_the_demo_model_edits_with_canny_only_and_says_so_before_any_load(mode, tmp_path, capsys, no_model_load):
    """The demo model has its own Canny ControlNet and no other: a pose or depth edit on it is one
    line naming canny and the model to fetch, exit 2, and nothing is loaded or written."""
    source = video(tmp_path / "src.mp4")
    assert main(edit_args("demo", source, tmp_path / "o.mp4", "--mode", mode)) == 2 and not no_model_load
    line = one_error_line(capsys)
    assert "Canny ControlNet only (--mode canny)" in line and "stable-diffusion-v1-5" in line
    assert not (tmp_path / "o.mp4").exists()


def test_a_missing_demo_controlnet_is_one_line_naming_how_to_get_it_back(tmp_path, capsys, no_model_load, monkeypatch):
    """A bundle or checkout without resources/models/demo/controlnet-canny (a partial copy)."""
    import shutil

    from t2vz_desktop.engine.models import demo_model_dir

    resources = tmp_path / "resources"
    shutil.copytree(demo_model_dir(), resources / "models" / "demo", ignore=shutil.ignore_patterns("controlnet-canny"))
    monkeypatch.setenv("T2VZ_RESOURCES", str(resources))
    source = video(tmp_path / "src.mp4")
    assert main(edit_args("demo", source, tmp_path / "o.mp4", "--mode", "canny")) == 2 and not no_model_load
    line = one_error_line(capsys)
    assert "the demo model's canny ControlNet is missing" in line and "train_controlnet" in line


@pytest.mark.parametrize("case", ["edit onto its source", "generate onto its start image", "generate onto its recipe",
                                  "condition onto its source", "compare onto an input", "eval json onto the video",
                                  "eval json and plot one file", "eval plot not png", "eval plot and no-plot",
                                  "eval unknown device"])
def test_no_command_overwrites_what_it_reads(case, tmp_path, capsys, no_model_load, tiny_folder):
    """A newcomer's `edit s.mp4 --out s.mp4` replaced the source with the edit, `compare a b --out
    a` and `eval v --json v` destroyed an input, `eval --json x --plot x` kept only the plot:
    every command now refuses one of its outputs landing on an input (or on another output) with
    one line and exit 2, before any work, and leaves the files as they were."""
    source = video(tmp_path / "src.mp4")
    other = video(tmp_path / "other.mp4")
    start = tmp_path / "start.png"
    import cv2

    cv2.imwrite(str(start), np.full((24, 32, 3), 128, np.uint8))
    recipe = tmp_path / "take.json"
    recipe.write_text('{"t2vz_recipe": 1, "prompts": ["a red circle"], "model": "demo", "frames": 4}')
    before = {p: p.read_bytes() for p in (source, other, start, recipe)}
    args, expected = {
        "edit onto its source": (edit_args(tiny_folder, source, source, "--mode", "canny"), "the source video"),
        "generate onto its start image": (generate_args(tiny_folder, start) + ["--image", str(start)],
                                          "the start image"),
        "generate onto its recipe": (["generate", "--recipe", str(recipe), "--out", str(tmp_path / "take.mp4")],
                                     "the recipe"),
        "condition onto its source": (["condition", str(source), "--mode", "canny", "--out", str(source)],
                                      "the source video"),
        "compare onto an input": (["compare", str(source), str(other), "--out", str(other)], "the video"),
        "eval json onto the video": (["eval", str(source), "--json", str(source)], "the video"),
        "eval json and plot one file": (["eval", str(source), "--json", str(tmp_path / "m.png"), "--plot",
                                         str(tmp_path / "m.png")], "--json"),
        "eval plot not png": (["eval", str(source), "--plot", str(tmp_path / "m.txt")], ".png"),
        "eval plot and no-plot": (["eval", str(source), "--plot", str(tmp_path / "m.png"), "--no-plot"], "--no-plot"),
        "eval unknown device": (["eval", str(source), "--device", "tpu"], "tpu"),
    }[case]
    assert main(args) == 2
    assert expected in one_error_line(capsys)
    assert {p: p.read_bytes() for p in before} == before
    assert not (tmp_path / "m.png").exists() and not (tmp_path / "m.txt").exists()


@pytest.mark.parametrize("case", ["nan pan", "infinite zoom", "pan without Y", "prompt key twice",
                                  "prompt key at 0 beside the prompt"])
def test_camera_and_prompt_keys_that_cannot_be_meant_are_refused(case, tmp_path, capsys, no_model_load):
    """A NaN pan was written into the recipe, which the tool then refused to re-make; two prompts
    on one frame kept the last silently; --prompt-at 0 replaced the main prompt in the keys but
    not in the recipe's prompts."""
    extra, expected = {
        "nan pan": (["--camera", "0", "--camera", "4:pan=nan/0"], "finite"),
        "infinite zoom": (["--camera", "0", "--camera", "4:zoom=inf"], "finite"),
        "pan without Y": (["--camera", "0", "--camera", "4:pan=1"], "pan takes X/Y"),
        "prompt key twice": (["--prompt-at", "3", "y", "--prompt-at", "3", "z"], "two --prompt-at keys on frame 3"),
        "prompt key at 0 beside the prompt": (["--prompt-at", "0", "y"], "would replace the prompt"),
    }[case]
    assert main(["generate", "x", "--model", "demo", "--out", str(tmp_path / "o.mp4"), *extra]) == 2
    assert expected in one_error_line(capsys)
    assert not list(tmp_path.iterdir())


def test_options_that_change_nothing_as_given_say_so(tmp_path, capsys):
    """One camera key held the camera still, and ease on the last key (the README's own example)
    changed nothing, both silently; a BOM-prefixed recipe (Windows Notepad) was refused."""
    out = tmp_path / "o.mp4"
    assert main(["generate", "x", "--model", "demo", "--frames", "3", "--steps", "2", "-q", "--out", str(out),
                 "--camera", "1:zoom=2"]) == 0
    assert "one camera key (frame 1) holds the camera still" in capsys.readouterr().err
    assert main(["generate", "x", "--model", "demo", "--frames", "3", "--steps", "2", "-q", "--out", str(out),
                 "--camera", "0", "--camera", "2:zoom=1.5,ease=ease"]) == 0
    assert "ease=ease on the last camera key (frame 2) does nothing" in capsys.readouterr().err
    recipe = tmp_path / "bom.json"
    recipe.write_bytes(b"\xef\xbb\xbf" + out.with_suffix(".json").read_bytes())
    assert main(["generate", "--recipe", str(recipe), "-q", "--out", str(tmp_path / "again.mp4")]) == 0


def test_an_edit_says_which_flags_it_ignores_and_keeps_them_out_of_the_recipe(tmp_path, capsys, tiny_folder):
    from diffusers import ControlNetModel, UNet2DConditionModel

    unet = UNet2DConditionModel.from_pretrained(tiny_folder / "unet")
    ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(8, 16)).save_pretrained(tmp_path / "cn")
    source = video(tmp_path / "src.mp4", frames=3)
    out = tmp_path / "e.mp4"
    assert main(edit_args(tiny_folder, source, out, "--mode", "canny", "--controlnet", str(tmp_path / "cn"), "-q",
                          "--image-guidance", "2", "--background-smoothing", "0.6", "--width", "32",
                          "--height", "24")) == 0
    err = capsys.readouterr().err
    assert "--image-guidance only steers --mode pix2pix" in err
    assert "--background-smoothing acts only with --motion-field" in err and "--motion " not in err  # not given
    import json

    assert json.loads(out.with_suffix(".json").read_text())["edit"]["image_guidance"] == 1.0


@pytest.mark.parametrize("case", ["a whole model, not a ControlNet", "a file for another latent scale"])
def test_what_is_not_a_controlnet_for_this_model_is_refused_before_any_load(case, tmp_path, capsys, no_model_load,
                                                                            tiny_folder):
    """A diffusers model folder given as the ControlNet ran the job and failed at load with cache
    advice; a .safetensors ControlNet was judged by the SD 1.5 configuration it is loaded with,
    so the message gave a width of 768 for a 32-wide net. Both are read from what the file holds."""
    from diffusers import ControlNetModel, UNet2DConditionModel

    source = video(tmp_path / "src.mp4")
    if case == "a whole model, not a ControlNet":
        net, expected = tiny_folder, "holds a"
        if not (tiny_folder / "config.json").exists():
            net, expected = tiny_folder, "is not a ControlNet folder"
    else:
        ControlNetModel.from_unet(UNet2DConditionModel.from_pretrained(tiny_folder / "unet")).save_pretrained(tmp_path / "cn")
        net, expected = tmp_path / "cn" / "diffusion_pytorch_model.safetensors", "image-to-latent scale is 8, the model's 2"
    assert main(edit_args(tiny_folder, source, tmp_path / "o.mp4", "--mode", "canny", "--controlnet", str(net))) == 2
    assert expected in one_error_line(capsys)


def test_an_edit_source_whose_data_is_cut_is_refused_before_any_load(tmp_path, capsys, no_model_load, tiny_folder):
    """A faststart MP4 cut short has a whole header: the edit probed it, loaded the model, printed
    four status lines and only then found the data broken. The chosen range is decoded first."""
    import av
    from fractions import Fraction

    whole = tmp_path / "whole.mp4"
    with av.open(str(whole), "w", options={"movflags": "faststart"}) as box:
        stream = box.add_stream("libx264", rate=Fraction(10))
        stream.width, stream.height, stream.pix_fmt = 128, 96, "yuv420p"
        for i in range(40):
            image = np.zeros((96, 128, 3), np.uint8)
            image[:, (3 * i) % 128:] = 200
            image[32:, :, 1] = (7 * i) % 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                box.mux(packet)
        for packet in stream.encode(None):
            box.mux(packet)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.3)])  # the header and a few frames
    import tiny_models

    pix2pix = tiny_models.save_tiny_folder(tmp_path / "pix2pix", in_channels=8)
    capsys.readouterr()  # the tiny model's own save messages
    assert main(edit_args(pix2pix, cut, tmp_path / "o.mp4", "--mode", "pix2pix")) == 2
    assert "broken video file" in one_error_line(capsys)


@pytest.mark.parametrize("class_name,words", [("StableDiffusionXLImg2ImgPipeline", "not the SDXL base pipeline"),
                                              ("FluxPipeline", "FluxPipeline model")])
def test_a_model_of_another_architecture_is_refused_in_one_line_before_loading(tmp_path, capsys, no_model_load,
                                                                              class_name, words):
    """Issue 27: an SDXL refiner folder loaded as SD and failed at the first UNet call with
    "argument of type 'NoneType' is not iterable"."""
    import json

    folder = tmp_path / "other"
    for part in ("unet", "vae", "text_encoder", "tokenizer", "scheduler"):
        (folder / part).mkdir(parents=True)
    (folder / "model_index.json").write_text(json.dumps({"_class_name": class_name}))
    out = tmp_path / "o.mp4"
    assert main(["generate", "a cat", "--model", str(folder), "--out", str(out), "-q"]) == 2
    line = one_error_line(capsys)
    assert words in line and "Stable Diffusion 1.x, 2.x and SDXL" in line and not out.exists() and not no_model_load


BAD_MODEL_SETTINGS = [
    ("not json", "is not valid JSON"),
    ("[20, 5.0]", "must hold a JSON object"),
    ('{"num_inference_steps": 20}', "'num_inference_steps' is not a model setting"),
    ('{"steps": "many"}', "steps must be a whole number"),
    ('{"steps": 0}', "steps must be between 1 and 1000"),
    ('{"guidance": NaN}', "guidance must be a finite number"),
    ('{"width": 63}', "width must be a multiple of 8"),
    ('{"t_restart": 5000}', ": t_restart must be a timestep from 1 to 999"),
    ('{"subject_layers": "down_blocks.1"}', "subject_layers must be a list of attention layer names"),
    ('{"guidance": null}', "guidance must be a number (got null)"),
    ('{"scheduler": "Euler-a"}', ": scheduler must be one of ddim, euler-a, dpm++, lcm, tcd (got 'Euler-a')"),
    ('{"scheduler": null}', "scheduler must be a sampler name (got null)"),
]


@pytest.mark.parametrize("text,words", BAD_MODEL_SETTINGS, ids=[w for _, w in BAD_MODEL_SETTINGS])
def test_a_models_own_settings_file_is_checked_before_loading(tmp_path, capsys, no_model_load, text, words):
    """A model folder's t2vz.json is a file anyone may have written: broken JSON failed after the
    load with "Expecting value: line 1 column 1", a list with "'list' object is not a mapping",
    and a misspelt key was silently ignored. Now one line naming the file, exit 2, nothing loaded."""
    import shutil

    from t2vz_desktop.engine.models import demo_model_dir

    folder = tmp_path / "model"  # the demo model's files, but not its weights (nothing loads)
    shutil.copytree(demo_model_dir(), folder, ignore=shutil.ignore_patterns("*.safetensors"))
    (folder / "t2vz.json").write_text(text)
    out = tmp_path / "o.mp4"
    assert main(["generate", "a cat", "--model", str(folder), "--out", str(out), "-q"]) == 2
    line = one_error_line(capsys)
    assert "t2vz.json" in line and words in line and not out.exists() and not no_model_load


def unet_configs():
    import json

    from t2vz_desktop.engine.models import demo_model_dir

    root = Path(__file__).resolve().parents[1]
    sdxl_like = dict(json.loads((root / "resources/configs/sd15/unet/config.json").read_text()),
                     down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
                     up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
                     block_out_channels=[32, 64, 64], layers_per_block=[1, 2, 2], transformer_layers_per_block=[1, 2, 3],
                     attention_head_dim=[2, 4, 4], cross_attention_dim=32, norm_num_groups=8)
    demo = json.loads((demo_model_dir() / "unet/config.json").read_text())
    return {"sd15": json.loads((root / "resources/configs/sd15/unet/config.json").read_text()), "demo": demo,
            "depth per block": sdxl_like, "no mid block": dict(demo, mid_block_type=None)}


@pytest.mark.parametrize("name", ["sd15", "demo", "depth per block", "no mid block"])
def test_cross_attention_layers_are_named_from_the_config_as_diffusers_builds_them(name):
    import torch
    from diffusers import UNet2DConditionModel

    from t2vz_desktop.engine.models import cross_attention_layers

    config = unet_configs()[name]
    with torch.device("meta"):
        unet = UNet2DConditionModel.from_config(config)
    built = [n.removesuffix(".processor") for n in unet.attn_processors if n.endswith("attn2.processor")]
    assert sorted(cross_attention_layers(config)) == sorted(built) and built


def test_a_subject_layer_the_unet_does_not_have_is_refused_before_loading(tmp_path, capsys, no_model_load):
    import json
    import shutil

    from t2vz_desktop.engine.models import demo_model_dir

    folder = tmp_path / "model"
    shutil.copytree(demo_model_dir(), folder, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
    settings = json.loads((folder / "t2vz.json").read_text())
    settings["subject_layers"] = [settings["subject_layers"][0], "up_blocks.1.attentions.0.transformer_block.0.attn2"]
    (folder / "t2vz.json").write_text(json.dumps(settings))
    out = tmp_path / "o.mp4"
    assert main(["generate", "a cat", "--model", str(folder), "--out", str(out), "-q"]) == 2
    line = one_error_line(capsys)
    assert ("t2vz.json: subject_layers: 'up_blocks.1.attentions.0.transformer_block.0.attn2' is not one of the UNet's "
            "cross-attention layers (e.g. down_blocks.1.attentions.0.transformer_blocks.0.attn2)") in line
    assert not out.exists() and not no_model_load
    from t2vz_desktop.engine.models import ModelError, read_defaults

    # Prefixes of the processors' names, as background smoothing reads them, are layers too.
    good = ["down_blocks.1", "up_blocks", "mid_block", "up_blocks.1.attentions.1.transformer_blocks.0.attn2.processor"]
    settings["subject_layers"] = good
    (folder / "t2vz.json").write_text(json.dumps(settings))
    assert read_defaults(folder)["subject_layers"] == good
    unet = json.loads((folder / "unet/config.json").read_text())
    (folder / "unet/config.json").write_text(json.dumps(dict(unet, mid_block_type=None)))
    with pytest.raises(ModelError, match="subject_layers: 'mid_block' is not one of"):
        read_defaults(folder)  # a UNet without a middle block has no mid_block layers
    # A config diffusers cannot build is for the load to report (it says what is wrong with it).
    for broken in (dict(unet, layers_per_block=[1]), dict(unet, transformer_layers_per_block=[1]),
                   dict(unet, reverse_transformer_layers_per_block=[1]), dict(unet, down_block_types="x"), ["x"]):
        (folder / "unet/config.json").write_text(json.dumps(broken))
        assert read_defaults(folder)["subject_layers"] == good


@pytest.mark.parametrize("part", ["unet/config.json", "scheduler/scheduler_config.json"])
@pytest.mark.parametrize("text,words", [('"x"', "must hold a JSON object"), ("[1]", "must hold a JSON object"),
                                        ('{"in_channels": 4', "is not valid JSON")])
def test_a_part_configuration_that_is_not_a_json_object_is_refused_before_loading(tmp_path, capsys, no_model_load,
                                                                                   part, text, words):
    """A unet/config.json holding "x" sent diffusers to the Hub, six tries over about 30 s offline."""
    import shutil

    from t2vz_desktop.engine.models import demo_model_dir

    folder = tmp_path / "model"
    shutil.copytree(demo_model_dir(), folder, ignore=shutil.ignore_patterns("*.safetensors"))
    (folder / part).write_text(text)
    out = tmp_path / "o.mp4"
    assert main(["generate", "a cat", "--model", str(folder), "--out", str(out), "-q"]) == 2
    line = one_error_line(capsys)
    assert part in line and words in line and not out.exists() and not no_model_load


def _edit_json(path, change):
    path.write_text(json.dumps(change(json.loads(path.read_text()))))


BROKEN_MODEL_FILES = [
    # a scheduler_config.json of {} loaded diffusers' default scheduler for a v-prediction model:
    # a smeared video and exit 0
    ("scheduler/scheduler_config.json", lambda f: f.write_text("{}"), "must name its _class_name"),
    ("model_index.json", lambda f: f.write_text('"x"'), "must hold a JSON object (the pipeline's parts)"),
    ("model_index.json", lambda f: f.write_text("{}"), "must name its _class_name (a string): it is not a pipeline"),
    ("tokenizer/tokenizer_config.json", lambda f: f.write_text("[1]"), "must hold a JSON object"),
    # the load said "You set `ignore_mismatched_sizes` to `False`", exit 1
    ("text_encoder/config.json", lambda f: f.unlink(), "is incomplete: no text_encoder/config.json"),
    # loaded, then the job failed on int(): "invalid literal for int() with base 10: 'x'"
    ("unet/config.json", lambda f: _edit_json(f, lambda d: dict(d, sample_size="x")), "sample_size must be a whole"),
    # found by a newcomer (the rest of this list): another part's configuration was loaded with
    # defaults (a wrong video, exit 0) or blamed on t2vz.json's subject_layers
    ("unet/config.json", lambda f: _copy_from(f, "vae/config.json"),
     "unet/config.json is an AutoencoderKL configuration, but model_index.json names the unet a UNet2DConditionModel"),
    ("scheduler/scheduler_config.json", lambda f: _copy_from(f, "unet/config.json"),
     "is a UNet2DConditionModel configuration, but model_index.json names the scheduler a DDIMScheduler"),
    ("text_encoder/config.json", lambda f: _copy_from(f, "unet/config.json"),
     "names the text_encoder a CLIPTextModel"),
    ("model_index.json", lambda f: _edit_json(f, lambda d: dict(d, unet="UNet2DConditionModel")),
     "\"unet\" must be a [library, class] pair"),  # "too many values to unpack (expected 2)"
    ("unet/config.json", lambda f: _edit_json(f, lambda d: dict(d, _class_name=5)), "must name its _class_name"),
    # the tokenizer without its configuration padded to 10^30 tokens: "int too big to convert", exit 1
    ("tokenizer/tokenizer_config.json", lambda f: f.unlink(), "is incomplete: no tokenizer_config.json"),
    ("tokenizer/tokenizer.json", lambda f: f.unlink(), "it needs tokenizer.json, or vocab.json and merges.txt"),
    ("tokenizer/tokenizer_config.json", lambda f: _edit_json(f, lambda d: dict(d, model_max_length="twenty")),
     "model_max_length must be a whole number of tokens (got \"twenty\")"),
    ("tokenizer/tokenizer_config.json", lambda f: _edit_json(f, lambda d: dict(d, model_max_length=77)),
     "model_max_length 77 is more tokens than the text encoder takes (its max_position_embeddings is 20)"),
    ("vae/config.json", lambda f: _edit_json(f, lambda d: dict(d, scaling_factor="0.5")),
     "scaling_factor must be a number above 0 (got \"0.5\")"),
    # said as a --width the user never gave
    ("unet/config.json", lambda f: _edit_json(f, lambda d: dict(d, sample_size=100000)),
     "sample_size 100000 makes 400000 px frames with this VAE (x4); a model draws 16 to 4096 px"),
]


def _copy_from(target, other: str):
    target.write_text((target.parent.parent / other).read_text())


@pytest.mark.parametrize("part,damage,words", BROKEN_MODEL_FILES, ids=[f"{p}-{w[:12]}" for p, _, w in BROKEN_MODEL_FILES])
def test_a_broken_model_file_is_one_line_exit_2_before_loading(tmp_path, capsys, no_model_load, part, damage, words):
    """Each was exit 1 with a library's message (or exit 0 and a wrong video), found by newcomers."""
    import shutil

    from t2vz_desktop.engine.models import demo_model_dir

    folder = tmp_path / "model"
    shutil.copytree(demo_model_dir(), folder, ignore=shutil.ignore_patterns("*.safetensors"))
    damage(folder / part)
    out = tmp_path / "o.mp4"
    assert main(["generate", "a cat", "--model", str(folder), "--out", str(out), "-q"]) == 2
    line = one_error_line(capsys)
    assert words in line and not out.exists() and not no_model_load


@pytest.mark.parametrize("part,change,words", [
    ("text_encoder/config.json", lambda d: dict(d, vocab_size="x"),
     "Validation error for field 'vocab_size': TypeError: Field 'vocab_size' expected int, got str"),
    ("vae/config.json", lambda d: dict({k: "x" for k in d}, _class_name="AutoencoderKL", scaling_factor=0.5),
     "could not load the model folder"),
    # every value a string: was blamed on t2vz.json's subject_layers ("this UNet has none")
    ("unet/config.json", lambda d: dict({k: "x" for k in d}, sample_size=8, _class_name="UNet2DConditionModel"),
     "could not load the model folder"),
    # "You set `ignore_mismatched_sizes` to `False` ... look at the above report!" (no report shown)
    ("text_encoder/config.json", lambda d: dict(d, hidden_size=128),
     "the text_encoder weights in {folder}/text_encoder do not fit its config.json: "),
    # diffusers' advice for its own API, and a blank part name ("Cannot load  because ...")
    ("unet/config.json", lambda d: dict(d, in_channels=9), "weights of another size than a part's config.json says: "
                                                           "conv_in.weight is (64, 4, 3, 3) in the file and (64, 9, 3, 3)"),
])
def test_a_part_file_with_values_of_the_wrong_kind_fails_the_load_in_one_line_exit_2(tmp_path, capsys, part, change,
                                                                                     words):
    """The load's own errors (TypeError, a validation error) were exit 1, "failed: ..."."""
    import shutil

    from t2vz_desktop.engine.models import demo_model_dir

    folder = tmp_path / "model"
    shutil.copytree(demo_model_dir(), folder)
    _edit_json(folder / part, change)
    out = tmp_path / "o.mp4"
    assert main(["generate", "a cat", "--model", str(folder), "--out", str(out), "-q", "--frames", "2"]) == 2
    line = one_error_line(capsys)
    assert words.format(folder=folder) in line and not out.exists()


def _weights_of(folder, part: str) -> str:
    name = "model.safetensors" if part == "text_encoder" else "diffusion_pytorch_model.safetensors"
    return str(folder / part / name)


def _drop_tensor(path: str, key: str) -> None:
    from safetensors.torch import load_file, save_file

    tensors = load_file(path)
    del tensors[key]
    save_file(tensors, path)


@pytest.mark.parametrize("damage,words", [
    # two lines, the last naming a .bin
    ("unet-file", "is incomplete: no unet weights (unet/diffusion_pytorch_model.safetensors)"),
    ("unet-folder", "is incomplete: no unet weights (unet/diffusion_pytorch_model.safetensors)"),
    # "Cannot copy out of meta tensor; no data!", exit 1
    ("unet=vae", "the unet weights in {folder} lack"),
    ("vae=unet", "the vae weights in {folder} lack"),
    ("unet-1", "the unet weights in {folder} lack 1 of its"),
    # a text encoder filled with random numbers, in silence: a wrong video, exit 0
    ("text_encoder=vae", "the text_encoder weights in {folder}/text_encoder lack"),
    ("text_encoder-1", "lack 1 of its tensors (e.g. encoder.layers.1.self_attn.k_proj.bias)"),
])
def test_weights_that_are_not_the_parts_are_refused_in_one_line_exit_2(tmp_path, capsys, damage, words):
    import shutil

    from t2vz_desktop.engine.models import demo_model_dir

    folder = tmp_path / "model"
    shutil.copytree(demo_model_dir(), folder)
    part, how, other = damage.partition("=") if "=" in damage else damage.partition("-")
    if how == "=":
        shutil.copy(_weights_of(folder, other), _weights_of(folder, part))
    elif other in ("file", "folder"):
        Path(_weights_of(folder, part)).unlink()
        if other == "folder":
            Path(_weights_of(folder, part)).mkdir()
    elif part == "unet":
        _drop_tensor(_weights_of(folder, part), "up_blocks.0.attentions.0.transformer_blocks.0.ff.net.2.bias")
    else:
        _drop_tensor(_weights_of(folder, part), "encoder.layers.1.self_attn.k_proj.bias")
    out = tmp_path / "o.mp4"
    assert main(["generate", "a cat", "--model", str(folder), "--out", str(out), "-q", "--frames", "2"]) == 2
    line = one_error_line(capsys)
    assert words.format(folder=folder) in line and not out.exists()


@pytest.mark.parametrize("part", ["t2vz.json", "unet/config.json"])
def test_a_model_file_that_is_a_pipe_is_refused_not_waited_on(tmp_path, capsys, no_model_load, part):
    """A FIFO named t2vz.json hung the job, and the app's panel, which reads it on the GUI thread."""
    import os
    import shutil

    from t2vz_desktop.engine.model_settings import own_sampler
    from t2vz_desktop.engine.models import demo_model_dir

    folder = tmp_path / "model"
    shutil.copytree(demo_model_dir(), folder, ignore=shutil.ignore_patterns("*.safetensors"))
    (folder / part).unlink()
    os.mkfifo(folder / part)
    out = tmp_path / "o.mp4"
    assert main(["generate", "a cat", "--model", str(folder), "--out", str(out), "-q"]) == 2
    line = one_error_line(capsys)
    assert f"{part} is not a regular file" in line and not out.exists() and not no_model_load
    assert own_sampler(str(folder)) in ("ddim", "euler-a")  # answered, not blocked


@pytest.mark.parametrize("content", [b"garbage", b""], ids=["garbage", "empty"])
def test_a_damaged_controlnet_file_is_one_line_and_exit_2(content, tmp_path, capsys, no_model_load):
    """A newcomer's --controlnet notamodel.safetensors ended with `t2vz: failed: Error while
    deserializing header` and exit 1: safetensors raises its own error type, which was not caught."""
    (tmp_path / "net.safetensors").write_bytes(content)
    source = video(tmp_path / "src.mp4")
    args = edit_args("demo", source, tmp_path / "o.mp4", "--mode", "canny", "--controlnet", str(tmp_path / "net.safetensors"))
    assert main(args) == 2 and not no_model_load
    assert "net.safetensors is not a readable .safetensors file" in one_error_line(capsys)
    assert not (tmp_path / "o.mp4").exists()


def test_the_demo_models_folder_path_finds_its_own_controlnet():
    """`--model resources/models/demo` is the demo model too: its Canny ControlNet is found by path."""
    from t2vz_desktop.engine.control import mode_controlnet
    from t2vz_desktop.engine.models import demo_model_dir

    assert mode_controlnet("canny", str(demo_model_dir())) == mode_controlnet("canny", "demo")
    assert mode_controlnet("canny", "demo").endswith("controlnet-canny")


def test_a_model_folder_carrying_a_controlnet_uses_it_by_default(tmp_path):
    """A newcomer's copy of the demo folder asked for lllyasviel's ControlNet, not the one inside it."""
    from t2vz_desktop.engine.control import mode_controlnet
    from t2vz_desktop.engine.models import demo_model_dir

    model = tmp_path / "my-demo"
    model.mkdir()
    for part in demo_model_dir().iterdir():
        (model / part.name).symlink_to(part)
    assert mode_controlnet("canny", str(model)) == str(model / "controlnet-canny")
    assert mode_controlnet("pose", str(model)) == "lllyasviel/sd-controlnet-openpose"  # none of its own for pose


def test_a_controlnet_folder_without_weights_is_one_line_before_any_load(tmp_path, capsys, no_model_load):
    """A newcomer's half-copied ControlNet folder (config.json only) got diffusers' message naming
    diffusion_pytorch_model.bin, a file it never had."""
    import shutil

    from t2vz_desktop.engine.control import demo_controlnet

    net = tmp_path / "canny"
    net.mkdir()
    shutil.copy(Path(demo_controlnet("canny")) / "config.json", net)
    source = video(tmp_path / "src.mp4")
    assert main(edit_args("demo", source, tmp_path / "o.mp4", "--mode", "canny", "--controlnet", str(net))) == 2
    line = one_error_line(capsys)
    assert "has no weights (diffusion_pytorch_model.safetensors)" in line and ".bin" not in line
    assert not no_model_load and not (tmp_path / "o.mp4").exists()


def test_a_controlnet_folder_of_fp16_weights_loads(tmp_path, tiny_controlnet):
    """Hub ControlNets are often fetched as the fp16 variant only; diffusers loads plain weights
    unless told the variant."""
    import shutil

    from t2vz_desktop.engine.control import load_controlnet

    net = tmp_path / "canny"
    shutil.copytree(tiny_controlnet, net)
    (net / "diffusion_pytorch_model.safetensors").rename(net / "diffusion_pytorch_model.fp16.safetensors")
    loaded = load_controlnet(str(net), torch.float32, torch.device("cpu"))
    plain = load_controlnet(str(tiny_controlnet), torch.float32, torch.device("cpu"))
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), plain.state_dict().values()))


def test_a_controlnet_folders_own_weights_file_is_read_as_that_folder(tmp_path):
    """A newcomer passed the demo ControlNet's diffusion_pytorch_model.safetensors: read alone in
    SD 1.5's single-file layout it failed with diffusers' raw shape-mismatch message."""
    from t2vz_desktop.engine.control import controlnet_config, demo_controlnet, load_controlnet

    folder = Path(demo_controlnet("canny"))
    file = folder / "diffusion_pytorch_model.safetensors"
    assert controlnet_config(str(file)) == controlnet_config(str(folder))
    a = load_controlnet(str(file), torch.float32, torch.device("cpu"))
    b = load_controlnet(str(folder), torch.float32, torch.device("cpu"))
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_a_controlnet_folder_with_cut_weights_is_one_line_before_any_load(tmp_path, capsys, no_model_load):
    """A half-copied weights file was found only after the model loaded, with advice to download
    into the Hugging Face cache; safetensors sees the cut from the header."""
    import shutil

    from t2vz_desktop.engine.control import demo_controlnet

    net = tmp_path / "canny"
    shutil.copytree(demo_controlnet("canny"), net)
    weights = net / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    source = video(tmp_path / "src.mp4")
    assert main(edit_args("demo", source, tmp_path / "o.mp4", "--mode", "canny", "--controlnet", str(net))) == 2
    line = one_error_line(capsys)
    assert "are damaged or incomplete" in line and "Hugging Face cache" not in line
    assert not no_model_load and not (tmp_path / "o.mp4").exists()


@pytest.mark.parametrize("case", ["cut weights file", "weights file alone"])
def test_a_controlnet_file_that_cannot_load_is_one_line_before_any_load(case, tmp_path, capsys, no_model_load):
    """A newcomer's cut diffusion_pytorch_model.safetensors given as a file, and the demo ControlNet's
    weights copied out of their folder, both failed only after the model loaded (the second with
    diffusers' raw shape-mismatch text and advice to pass ignore_mismatched_sizes)."""
    import shutil

    from t2vz_desktop.engine.control import demo_controlnet

    net = tmp_path / "canny"
    shutil.copytree(demo_controlnet("canny"), net)
    weights = net / "diffusion_pytorch_model.safetensors"
    if case == "cut weights file":
        weights.write_bytes(weights.read_bytes()[:100_000])
        given, expected = weights, "are damaged or incomplete"
    else:
        given, expected = shutil.copy(weights, tmp_path / "canny.safetensors"), "is not a Stable Diffusion 1.5 ControlNet"
    source = video(tmp_path / "src.mp4")
    assert main(edit_args("demo", source, tmp_path / "o.mp4", "--mode", "canny", "--controlnet", str(given))) == 2
    assert expected in one_error_line(capsys) and not no_model_load and not (tmp_path / "o.mp4").exists()


def test_a_recipe_is_not_shared_with_a_video_whose_suffix_has_other_capitals(tmp_path, capsys):
    """clip.MP4 then clip.webm: both exited 0 and clip.json became the WebM's (Linux names are
    case-sensitive, the guard compared lower-case suffixes only)."""
    from t2vz_desktop.media import ExportOptions, export_video, refuse_sharing_a_recipe

    recipe = '{"t2vz_recipe": 1, "prompts": ["x"]}'
    export_video(iter([np.full((16, 16, 3), 100, np.uint8)] * 2), tmp_path / "clip.MP4", ExportOptions(fps=8, metadata=recipe))
    assert (tmp_path / "clip.json").is_file()
    with pytest.raises(ValueError, match="its recipe clip.json is clip.MP4's"):
        refuse_sharing_a_recipe(tmp_path / "clip.webm", "webm")
    refuse_sharing_a_recipe(tmp_path / "clip.MP4", "mp4")  # replacing a video and its own pair stays allowed
