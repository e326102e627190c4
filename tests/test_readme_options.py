"""README and --help say the same thing: every flag README documents for a command is one that
command's --help lists, and --help itself tells a newcomer the defaults, the app and what applies
to editing."""

import json
import re
from pathlib import Path

import pytest

from t2vz_desktop.cli import main

ROOT = Path(__file__).resolve().parents[1]
# README section (its "## " title starts so) -> the command its prose documents.
SECTIONS = {
    "Making videos": "generate",
    "Steadier videos": "generate",
    "Editing a video": "edit",
    "Measuring and comparing": None,  # the bullets name their command (eval, compare)
}
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def readme_flags() -> set[tuple[str, str]]:
    """(command, --flag) for every flag in README's option sections: in code lines the command
    is the one after `t2vz`, in prose the section's, or the one a bullet starts with."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found, seen_sections = set(), set()
    for block in re.split(r"^## ", text, flags=re.M)[1:]:
        title = next((t for t in SECTIONS if block.startswith(t)), None)
        if title is None:
            continue
        seen_sections.add(title)
        default = command = SECTIONS[title]
        in_code = False
        for line in block.splitlines():
            if line.startswith("```"):
                in_code = not in_code
                command = default
                continue
            named = re.search(r"\bt2vz (generate|edit|condition|eval|compare)\b", line) if in_code else \
                re.match(r"- `(eval|compare)\b", line)
            if named:
                command = named.group(1)
            elif line.startswith("- ") or (in_code and not line.startswith(" ")):
                command = default
            for flag in FLAG.findall(line):
                assert command is not None, f"README {title!r}: cannot tell which command {flag} is for: {line}"
                found.add((command, flag))
    assert seen_sections == set(SECTIONS), f"README lacks the sections {set(SECTIONS) - seen_sections}"
    return found


def help_text(capsys, *command: str) -> str:
    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    assert done.value.code == 0
    return capsys.readouterr().out


def test_every_flag_readme_documents_is_accepted_by_its_command(capsys):
    documented = readme_flags()
    assert {c for c, _ in documented} == {"generate", "edit", "condition", "eval", "compare"}
    helps = {c: set(FLAG.findall(help_text(capsys, c))) for c in {c for c, _ in documented}}
    missing = sorted(f"{c} {f}" for c, f in documented if f not in helps[c])
    assert missing == [], f"README documents flags that --help does not list: {missing}"


def test_generate_help_shows_the_defaults_and_the_models_own_timesteps(capsys):
    text = " ".join(help_text(capsys, "generate").split())
    demo = json.loads((ROOT / "resources" / "models" / "demo" / "t2vz.json").read_text())
    assert f"941 for SD, {demo['t_restart']} demo" in text and f"881 for SD, {demo['t_warp']} demo" in text
    assert "video length in frames (default 8)" in text
    assert f"50 for SD, 4 LCM models, {demo['steps']} demo" in text  # steps
    assert f"(default auto: the model's own: ddim for SD, {demo['scheduler']} for the demo model)" in text
    assert "(default 0.5)" in text  # --smooth


def test_edit_help_lists_only_what_applies_to_editing(capsys):
    flags = set(FLAG.findall(help_text(capsys, "edit")))
    assert {"--mode", "--controlnet", "--source-fps", "--image-guidance", "--seed", "--steps"} <= flags
    assert flags.isdisjoint({"--frames", "--fps", "--camera", "--prompt-at", "--prompt-blend", "--image", "--end-image"})


def test_top_level_help_names_the_app_and_its_self_test(capsys):
    text = help_text(capsys)
    assert "t2vz-desktop" in text and "--self-test" in text
