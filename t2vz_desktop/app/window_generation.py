"""The main window's generation work: queueing jobs from the panel, Edit with..., Re-generate,
Animate this frame, Re-use settings, and the queue's signals (progress, results onto the timeline)."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt

from ..engine.request import RequestError
from .edit_dialog import EditDialog, EditSource
from .errors import reports_errors
from .images import to_qimage
from .monitor import eta_words
from .preferences import render_cluster
from .project import MediaItem, media_folder, new_id
from .render import frame_at
from .worker import Job, JobOutput, StepUpdate


class GenerationMixin:
    """Generation slots of MainWindow (mixed in; uses self.queue, self.panel, self.doc, self.monitor)."""

    # -- video-to-video, re-generation, image-to-video ---------------------------------------------
    @reports_errors("Cannot open Edit with...")
    def edit_with(self, clip_id: str = "", media_id: str = "") -> EditDialog | None:
        """Open 'Edit with...' for a timeline clip (its in/out points give the frame range) or a
        bin item (all of it; the result then goes on the bottom track)."""
        project = self.doc.project
        clip = project.find_clip(clip_id)[1] if clip_id else None
        item = project.media.get(clip.media_id if clip else media_id)
        if item is None or item.offline:
            self.notify("This clip's file is offline: it cannot be edited.", error=True)
            return None
        source = EditSource(item.path, item.name, item.frames, item.fps, clip_id=clip_id, project_fps=project.fps)
        if clip is not None:
            source.start = item.source_frame(clip.in_point, project.fps)
            source.end = item.source_frame(clip.out_point - 1, project.fps) + 1
        dialog = EditDialog(source, self.panel.model_name(), self.panel.seed.value(), self)
        if item.recipe:
            dialog.prompt.setPlainText(json.loads(item.recipe)["prompts"][0])
        dialog.accepted.connect(lambda: self.generate(dialog.request_fields(), above_clip=clip_id))
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def regenerate(self, clip_id: str) -> Job | None:
        """Queue a clip's recipe again, with the keyframes edited on the timeline; the new take
        lands on the track above, aligned with the clip."""
        from ..engine.request import GenerationRequest, RequestError

        _, clip = self.doc.project.find_clip(clip_id)
        item = self.doc.project.media[clip.media_id]
        try:  # the recipe's own allow_unsafe_pickle is dropped here; generate() asks the user
            request = GenerationRequest.from_json(item.edited_recipe or item.recipe, f"the recipe of {item.name}")
        except RequestError as e:
            self.notify(f"Cannot re-generate {item.name}: {e}", error=True)
            return None
        fields = {f: getattr(request, f) for f in request.__dataclass_fields__}
        return self.generate(fields, above_clip=clip_id)

    def animate_frame(self) -> Path | None:
        """Save the frame at the playhead as a PNG beside the generated media and make it the
        start image of the generation panel (image-to-video)."""
        frame = self.timeline.playhead
        picture, clip = frame_at(self.doc.project, frame, self.frames)
        if picture is None:
            self.notify("No picture at the playhead to animate.")
            return None
        folder = self.generated_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"frame-{frame:05d}-{new_id()}.png"
        if not to_qimage(picture).save(str(path)):
            self.notify(f"Could not write {path}", error=True)
            return None
        self.panel.set_init_image(str(path))
        item = self.doc.project.media[clip.media_id]
        if item.recipe and not self.panel.prompt.toPlainText().strip():
            self.panel.prompt.setPlainText(json.loads(item.recipe)["prompts"][0])
        self.panel.show_message(f"Frame {frame} is the start image: describe the motion and Generate.")
        self.notify(f"Saved frame {frame} as {path.name} for image-to-video")
        return path

    def update_camera_path(self, *_) -> None:
        """Show the panel's camera keys over the monitor's frame, before generating."""
        try:
            keys = self.panel.camera()
        except ValueError:
            keys = None
        w = self.panel.width_box.value() or self.doc.project.width
        h = self.panel.height_box.value() or self.doc.project.height
        self.monitor.set_camera_path(keys, self.panel.frames.value(), w, h)

    def reuse_settings(self, media_id: str) -> None:
        self.reuse_item(self.doc.project.media.get(media_id))

    @reports_errors("Cannot re-use the settings")
    def reuse_item(self, item: MediaItem | None) -> None:
        """Load the recipe of a bin item or a History take into the generation panel."""
        if item is None or not item.recipe:
            self.notify("This clip was not generated here: it has no settings to re-use.")
            return
        try:
            self.panel.apply_recipe(item.edited_recipe or item.recipe, "its recipe")  # keys edited on its lanes too
        except RequestError as e:  # written by anyone: say it is the file, not the user
            self.notify(f"The settings stored with {item.name} are damaged and cannot be re-used ({e})", error=True)
            return
        self.notify(f"Settings of {item.name} loaded into the generation panel.")

    # -- generation -------------------------------------------------------------------------------
    def generated_dir(self) -> Path:
        """Saved projects keep generated clips beside the project file; unsaved ones in app data."""
        if self.doc.path is not None:
            return media_folder(self.doc.path)
        return self.data_dir / "unsaved" / self.session

    def generate(self, fields: dict, above_clip: str = "") -> Job | None:
        """Queue a generation; None when the user refuses the consent it needs (a pickle checkpoint)."""
        from ..engine.request import CONSENT_FIELDS, pickle_checkpoint

        # Consent comes from the user only: whatever the fields carry (a recipe's values, via
        # Re-generate) is dropped, and a pickle checkpoint needs a yes in a dialog naming the file.
        fields = {k: v for k, v in fields.items() if k not in CONSENT_FIELDS}
        checkpoint = pickle_checkpoint(fields.get("model"))
        if checkpoint is not None:
            if checkpoint.resolve() not in self.allowed_pickles and not self.ask_allow_pickle(checkpoint):
                self.notify(f"Not generating: {checkpoint.name} is a pickle checkpoint and was not allowed.", error=True)
                return None
            self.allowed_pickles.add(checkpoint.resolve())
            fields["allow_unsafe_pickle"] = True
        fields = {**fields, "fps": self.doc.project.fps}
        job = Job(new_id(), fields, self.generated_dir(), above_clip=above_clip, cluster=render_cluster(self.settings))
        self.queue.submit(job)
        return job

    def _job_status(self, job_id: str, text: str) -> None:
        self.statusBar().showMessage(text, 5000)
        optimising = text.startswith("optimising for this")
        self.panel.skip_button.setVisible(optimising)
        if optimising:
            self.panel.show_message(text[0].upper() + text[1:])

    def _skip_optimising(self) -> None:
        if self.queue.current is not None:
            self.queue.current.cancel.skip_optimising()
        self.panel.skip_button.hide()

    def _queue_count(self, pending: int) -> None:
        self.panel.set_busy(pending > 0)

    def _job_started(self, job: Job) -> None:
        self.panel.show_job(job)
        self.panel.show_message(f"Generating: {job.title}")

    def _job_step(self, update: StepUpdate) -> None:
        self.panel.skip_button.hide()
        if update.preview is not None:
            self.stop_playback()
            self.monitor.show_preview(update.preview, update.step, update.total, update.eta_s, update.mask)
        elif update.note:  # on a cluster the latents stay on the workers: the tasks' progress instead
            self.panel.show_message(f"On the cluster: {update.note}; step {update.step}/{update.total}"
                                    + (f", {eta_words(update.eta_s)}" if update.eta_s is not None else ""))

    def _job_finished(self, job: Job, out: JobOutput) -> None:
        """Every video of the job goes into History; one goes straight onto the timeline (takes
        of a batch are shown in the grid to choose from)."""
        self.panel.skip_button.hide()
        self.panel.show_job(job)
        self.monitor.end_preview()
        takes = self.record_takes(out.takes)
        if len(takes) == 1:
            self.put_takes([takes[0].item.id], job.above_clip)
            self.show_playhead()
            self.panel.show_message(f"Done in {out.seconds:.1f} s: {out.path.name}")
            self.notify(f"Generated {out.path.name} ({out.frames} frames) in {out.seconds:.1f} s")
            return
        self.show_takes(takes, job.above_clip)
        self.panel.show_message(f"{len(takes)} takes in {out.seconds:.1f} s: choose in the monitor; all are in History")
        self.notify(f"Generated {len(takes)} takes ({out.frames} frames each) in {out.seconds:.1f} s")

    def _job_failed(self, job: Job, message: str) -> None:
        self.panel.skip_button.hide()
        self.panel.show_job(job)
        self.monitor.end_preview()
        self.show_playhead()
        self.panel.show_message(message, error=True)
        self.notify(f"Generation failed: {message}", error=True)

    def _job_cancelled(self, job: Job) -> None:
        self.panel.skip_button.hide()
        self.panel.show_job(job)
        self.monitor.end_preview()
        self.show_playhead()
        self.panel.show_message("Cancelled.")
        self.notify("Job cancelled; nothing was written.")
