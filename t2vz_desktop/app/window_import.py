"""The main window's importing: the file dialog, dropped files, probing each file first."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import QFileDialog

from ..media import MediaError, iter_frames, probe_video, read_recipe
from .project import VIDEO_SUFFIXES, MediaItem, Project, new_id
from .project_format import usable_recipe

class ImportMixin:
    """Import slots of MainWindow (mixed in; uses self.doc and self.errors)."""

    # -- importing ----------------------------------------------------------------------------------
    def import_dialog(self) -> None:
        patterns = " ".join("*" + s for s in VIDEO_SUFFIXES)
        files, _ = QFileDialog.getOpenFileNames(self, "Import media", self.import_folder(), f"Videos ({patterns})")
        if files:
            self.settings.setValue("import/folder", str(Path(files[0]).parent))
            self.import_files([Path(f) for f in files])

    def import_folder(self) -> str:
        """Where the import dialog opens: the last folder imported from, else the user's videos
        folder, else home (it opened in the process's working directory)."""
        last = self.settings.value("import/folder", "")
        if last and Path(last).is_dir():
            return last
        videos = QStandardPaths.writableLocation(QStandardPaths.MoviesLocation)
        return videos if videos and Path(videos).is_dir() else str(Path.home())

    def import_files(self, paths: list[Path], track_id: str = "", frame: int | None = None) -> list[MediaItem]:
        """Probe and add video files (to the bin, and to a track when dropped on one). A file
        that cannot be read is named in a message and changes nothing."""
        items, problems = [], []
        for path in paths:
            try:
                items.append(self._probe(Path(path)))
            except MediaError as e:
                problems.append(f"{Path(path).name}: {e}")
            except Exception as e:  # noqa: BLE001 - a bug met on this file: the dialog, then the next file
                self.errors.report(e, f"Cannot import {Path(path).name}")
        if items:
            def add(p: Project) -> None:
                at = frame
                for item in items:
                    p.add_media(item)
                    if track_id:
                        at = p.add_clip(track_id, item.id, at).end
            self.doc.edit(f"Import {len(items)} file(s)", add)
            self.notify(f"Imported {', '.join(i.name for i in items)}")
        if problems:
            self.notify("Could not import:\n" + "\n".join(problems), error=True)
        return items

    def _probe(self, path: Path) -> MediaItem:
        if path.suffix.lower() not in VIDEO_SUFFIXES:
            raise MediaError(f"not a supported video file (MP4, MOV, WebM, MKV or GIF): {path}")
        info = probe_video(path)
        # a header can look fine over broken data: decode the first frame before accepting it
        if info.frames < 1 or next(iter_frames(path, 0, 1), None) is None:
            raise MediaError(f"no frames could be decoded from {path}")
        recipe = usable_recipe(read_recipe(path))  # a video made elsewhere may carry anything
        return MediaItem(new_id(), str(path.resolve()), path.name, info.width, info.height,
                         info.fps or self.doc.project.fps, info.frames, info.has_audio, recipe, generated=False)
