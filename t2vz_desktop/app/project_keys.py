"""Keyframes of generated clips, as a mixin of the plain Project (no Qt): camera and prompt keys
that live in the clip's recipe.

Units: keys are numbered in frames of the generated video (its source frames), so trimming or
moving a clip on the timeline never detaches them from its content.
"""

from __future__ import annotations

import json

from .project_types import EditError, MediaItem

LANES = {"camera": "camera", "prompt": "prompt_keys"}  # keyframe lane -> recipe field


def _recipe_motion(recipe: dict, item: MediaItem) -> tuple[float, float]:
    """The motion (output px per frame) a clip was made with: its recipe's, or the default the
    engine filled in for a recipe that left it out."""
    from ..engine.camera import default_motion

    if recipe.get("motion") is not None:
        dx, dy = recipe["motion"]
        return float(dx), float(dy)
    return default_motion(recipe.get("width") or item.width, recipe.get("height") or item.height)


def _working_recipe(item: MediaItem) -> dict:
    """The item's recipe as edited so far (JSON data); an item that was not generated has none."""
    text = item.edited_recipe or item.recipe
    if not text:
        raise EditError(f"{item.name} was not generated here: it has no keyframes")
    return json.loads(text)


class KeyframeEdits:
    """Project's keyframe edits (mixed in; reads self.media)."""

    def keys(self, media_id: str, lane: str) -> list[dict]:
        """The camera ("camera") or prompt ("prompt") keys of a generated item, sorted by frame."""
        recipe = _working_recipe(self.media[media_id])
        return sorted(recipe.get(LANES[lane]) or [], key=lambda k: k["frame"])

    def add_key(self, media_id: str, lane: str, frame: int) -> dict:
        """A new key at source frame `frame`, holding the values the video has there now."""
        item = self.media[media_id]
        recipe, keys = _working_recipe(item), self.keys(media_id, lane)
        if not 0 <= frame < item.frames:
            raise EditError(f"frame {frame} is outside the clip (0-{item.frames - 1})")
        if any(k["frame"] == frame for k in keys):
            raise EditError(f"there is already a {lane} key at frame {frame}")
        if lane == "camera":
            from ..engine.camera import CameraKey, camera_at

            now = [CameraKey(k["frame"], tuple(k["pan"]), k["zoom"], k["rotate"], k["ease"]) for k in keys]
            if now:
                x, y, zoom, rotate = camera_at(now, frame)
            else:
                # The first key replaces the clip's motion: the path starts as that motion, a key
                # at the first and last frames on its line, so the take stays as it was (pan 0,0
                # made a static take).
                dx, dy = _recipe_motion(recipe, item)
                x, y, zoom, rotate = dx * frame, dy * frame, 1.0, 0.0
                last = (recipe.get("frames") or item.frames) - 1
                keys += [{"frame": f, "pan": [dx * f, dy * f], "zoom": 1.0, "rotate": 0.0, "ease": "linear"}
                         for f in sorted({0, last} - {frame})]
            key = {"frame": frame, "pan": [x, y], "zoom": zoom, "rotate": rotate, "ease": "linear"}
        else:
            clash = [name for name, on in (("edits", recipe.get("edit")), ("a start image", recipe.get("init_image") or recipe.get("end_image")),
                                           ("an attention window", recipe.get("attention_window")),
                                           ("background smoothing", recipe.get("background_smoothing"))) if on]
            if clash:
                raise EditError(f"prompt travel does not combine with {clash[0]} yet")
            before = [k for k in keys if k["frame"] < frame]
            prompt = before[-1]["prompt"] if before else recipe["prompts"][0]
            key = {"frame": frame, "prompt": prompt, "seed": None}
            if not keys and frame != 0:  # prompt travel needs a key at frame 0
                keys.append({**key, "frame": 0})
        keys.append(key)
        self._set_keys(item, lane, keys)
        return key

    def move_key(self, media_id: str, lane: str, frame: int, to: int) -> None:
        item = self.media[media_id]
        keys = self.keys(media_id, lane)
        key = next((k for k in keys if k["frame"] == frame), None)
        if key is None:
            raise EditError(f"no {lane} key at frame {frame}")
        if lane == "prompt" and frame == 0 and to != 0:
            raise EditError("the first prompt key stays at frame 0")
        if not 0 <= to < item.frames:
            raise EditError(f"frame {to} is outside the clip (0-{item.frames - 1})")
        if any(k["frame"] == to for k in keys if k is not key):
            raise EditError(f"there is already a {lane} key at frame {to}")
        key["frame"] = to
        self._set_keys(item, lane, keys)

    def delete_key(self, media_id: str, lane: str, frame: int) -> None:
        item = self.media[media_id]
        keys = self.keys(media_id, lane)
        if not any(k["frame"] == frame for k in keys):
            raise EditError(f"no {lane} key at frame {frame}")
        rest = [k for k in keys if k["frame"] != frame]
        if lane == "prompt" and frame == 0 and rest:
            raise EditError("the first prompt key stays at frame 0 (delete the others first)")
        self._set_keys(item, lane, rest)

    @staticmethod
    def _set_keys(item: MediaItem, lane: str, keys: list[dict]) -> None:
        recipe = _working_recipe(item)
        keys = sorted(keys, key=lambda k: k["frame"])
        recipe[LANES[lane]] = keys or None
        if lane == "prompt" and keys:
            recipe["prompts"] = [keys[0]["prompt"]]
        item.edited_recipe = json.dumps(recipe, indent=2)
