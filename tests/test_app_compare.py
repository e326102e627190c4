"""Compare: two takes opened from the media bin play under one transport, both showing the
picture at the same time (not the same frame number), side by side or with a wipe, with their
recipes' differences listed."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from footage import _write, flashing, picture
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from test_app_fixtures import window  # noqa: F401 - the fixture

from t2vz_desktop.app.compare_view import CompareDialog, recipe_differences
from t2vz_desktop.engine.request import EditSpec, GenerationRequest


def flash_clip(path: Path, fps: int, recipe: GenerationRequest | None = None) -> Path:
    """1 s of grey at `fps` with one white picture at 0.5 s (frame 12 at 24 fps, frame 4 at 8 fps),
    with `recipe` as its sidecar."""
    _write(path, flashing(64, 48, [i / fps for i in range(fps)], 0.5), end_s=1.0, rate=fps,
           time_base=Fraction(1, fps))
    if recipe is not None:
        path.with_suffix(".json").write_text(recipe.to_json())
    return path


def colour_clip(path: Path, colour: tuple[int, int, int]) -> Path:
    return _write(path, [(i / 8, picture(64, 48, colour)) for i in range(8)], end_s=1.0, rate=8,
                  time_base=Fraction(1, 8))


def sides(dialog: CompareDialog) -> tuple[int, int]:
    """The brightness on screen at the middle of the left and the right picture (side by side)."""
    image = dialog.view.grab().toImage()
    y = image.height() // 2
    return tuple(image.pixelColor(x, y).lightness() for x in (image.width() // 4, 3 * image.width() // 4))


def open_from_bin(window, qtbot, paths: list[Path], entry: str = "Compare") -> CompareDialog:
    window.import_files(paths)
    bin_ = window.bin
    items = [bin_.item(i) for i in range(bin_.count())]
    for item in items:
        item.setSelected(item.data(Qt.UserRole + 1) in {str(p) for p in paths})
    menu = bin_.context_menu(bin_.selectedItems()[-1])
    action = next(a for a in menu.actions() if a.text() == entry)
    action.trigger()
    dialog = window.compare_dialog
    qtbot.waitUntil(lambda: dialog.ready and dialog.shown_tick == dialog.tick, timeout=10_000)
    return dialog


def test_two_takes_of_different_rates_show_the_same_moment(window, qtbot, tmp_path):
    fast = flash_clip(tmp_path / "fast.mp4", 24, GenerationRequest(["a flash"], model="demo", seed=7, steps=20))
    slow = flash_clip(tmp_path / "slow.mp4", 8, GenerationRequest(["a flash"], model="demo", seed=11, steps=30))
    dialog = open_from_bin(window, qtbot, [fast, slow])
    assert dialog.rate == 24 and dialog.ticks == 24  # the faster clip's rate
    assert sides(dialog)[0] < 200 and sides(dialog)[1] < 200  # both grey at 0 s

    # Play from the start and stop at the flash: both sides show it, though it is frame 12 of one
    # and frame 4 of the other
    dialog.play_button.click()
    assert dialog.playing
    qtbot.waitUntil(lambda: dialog.tick >= 12, timeout=10_000)
    assert dialog.tick <= 14  # it plays in real time, not in jumps
    dialog.play_button.click()
    dialog.seek(0.5)
    qtbot.waitUntil(lambda: dialog.shown_tick == 12)
    assert dialog.time_s() == 0.5
    assert sides(dialog) == (255, 255)
    dialog.seek(0.55)  # the 24 fps flash has gone (it lasts 1/24 s), the 8 fps one lasts 1/8 s
    qtbot.waitUntil(lambda: dialog.shown_tick == 13)
    left, right = sides(dialog)
    assert left < 200 and right == 255
    dialog.seek(0.45)  # before the flash on both, at the frame numbers where a frame-count sync would differ
    qtbot.waitUntil(lambda: dialog.shown_tick == 10)
    assert max(sides(dialog)) < 200

    # playing on to the end stops there, both sides at the same tick throughout
    dialog.seek(0.8)
    dialog.play_button.click()
    qtbot.waitUntil(lambda: not dialog.playing, timeout=10_000)
    assert dialog.tick == dialog.ticks - 1 and dialog.play_button.text() == "Play"

    differences = [dialog.differences.item(i).text() for i in range(dialog.differences.count())]
    assert "seed: 7 \u2192 11" in differences and "steps: 20 \u2192 30" in differences
    assert not any(line.startswith(("prompts", "model")) for line in differences)  # the same on both
    dialog.close()


def test_the_wipe_shows_the_left_video_left_of_the_divider(window, qtbot, tmp_path):
    red = colour_clip(tmp_path / "red.mp4", (220, 30, 30))
    blue = colour_clip(tmp_path / "blue.mp4", (30, 30, 220))
    dialog = open_from_bin(window, qtbot, [red, blue])
    dialog.mode.setCurrentText("Wipe")
    view = dialog.view
    rect = view.wipe_rect()
    x, y = int(rect.x() + rect.width() * 0.5), int(rect.center().y())

    def colour_at_x() -> str:
        c = view.grab().toImage().pixelColor(x, y)
        return "red" if c.red() > c.blue() + 80 else "blue" if c.blue() > c.red() + 80 else "other"

    QTest.mouseClick(view, Qt.LeftButton, Qt.NoModifier, QPoint(int(rect.x() + rect.width() * 0.8), y))
    assert view.wipe > 0.75 and colour_at_x() == "red"
    # drag the divider from the right to the left of x: the right video shows there now
    QTest.mousePress(view, Qt.LeftButton, Qt.NoModifier, QPoint(int(rect.x() + rect.width() * 0.8), y))
    QTest.mouseMove(view, QPoint(int(rect.x() + rect.width() * 0.2), y))
    QTest.mouseRelease(view, Qt.LeftButton, Qt.NoModifier, QPoint(int(rect.x() + rect.width() * 0.2), y))
    assert view.wipe < 0.25 and colour_at_x() == "blue"
    # side by side again: red on the left half, blue on the right
    dialog.mode.setCurrentText("Side by side")
    image = view.grab().toImage()
    assert image.pixelColor(image.width() // 4, y).red() > 150 and image.pixelColor(3 * image.width() // 4, y).blue() > 150
    dialog.close()


def test_an_edit_is_compared_with_its_source_and_a_file_without_a_recipe_says_so(window, qtbot, tmp_path):
    source = flash_clip(tmp_path / "source.mp4", 8)  # imported footage: no recipe
    edit = GenerationRequest(["make it snowy"], model="demo", seed=3, edit=EditSpec(str(source), instruct=True))
    edited = flash_clip(tmp_path / "snowy.mp4", 24, edit)
    dialog = open_from_bin(window, qtbot, [edited], entry="Compare with source")
    assert dialog.paths == (source, edited)
    lines = [dialog.differences.item(i).text() for i in range(dialog.differences.count())]
    assert lines == ["left (source.mp4): no recipe"]
    dialog.seek(0.5)
    qtbot.waitUntil(lambda: dialog.shown_tick == 12)
    assert sides(dialog) == (255, 255)
    dialog.close()
    # two takes alike: said in one line, not an empty list
    assert recipe_differences(edited, edited) == ["the recipes are the same"]


def test_one_selected_take_offers_no_compare(window, tmp_path):
    clip = flash_clip(tmp_path / "one.mp4", 8, GenerationRequest(["a flash"], model="demo"))
    window.import_files([clip])
    item = window.bin.item(0)
    item.setSelected(True)
    assert not [a for a in window.bin.context_menu(item).actions() if a.text().startswith("Compare")]
