"""Playback in the main window (mixed in): the play timer shows the frame of the sound being
heard (sound.Player is the clock), the monitor's mute and volume (kept in QSettings), and short
snippets of sound while the playhead is dragged or stepped."""

from __future__ import annotations

import copy

from PySide6.QtCore import Qt, QTimer

from .render import FrameCache, prefetch_at
from .sound import Player
from .window_messages import app_icon

TICK_MS = 10  # how often the picture looks at the sound's clock: a frame is at most this late


class PlaybackMixin:
    """Slots of MainWindow for play, pause, frame steps and the sound; reads its doc, timeline,
    monitor, frames and settings."""

    def _init_playback(self, player: Player | None = None) -> None:
        self.player = player or Player()
        self.play_timer = QTimer(self)
        self.play_timer.setTimerType(Qt.PreciseTimer)
        self.play_timer.timeout.connect(self._tick)
        self.player.volume = self.settings.value("sound/volume", 1.0, type=float)
        self.player.muted = self.settings.value("sound/muted", False, type=bool)
        self.monitor.set_sound(self.player.volume, self.player.muted)
        self.monitor.volume_changed.connect(self._set_volume)
        self.monitor.mute_toggled.connect(self._set_muted)
        self.timeline.playhead_moved.connect(self._scrub)
        self.doc.changed.connect(self._sound_edited)

    # -- sound settings -----------------------------------------------------------------------
    def _set_volume(self, volume: float) -> None:
        self.player.volume = volume
        self.settings.setValue("sound/volume", volume)

    def _set_muted(self, muted: bool) -> None:
        self.player.muted = muted
        self.settings.setValue("sound/muted", muted)

    def _scrub(self, frame: int) -> None:
        project = self.doc.project
        if not self.play_timer.isActive() and 0 <= frame < project.duration:
            self.player.scrub(copy.deepcopy(project), frame / project.fps)

    def _sound_edited(self) -> None:
        if self.play_timer.isActive():  # the mixer reads its own copy: edits are handed over
            self.player.set_project(copy.deepcopy(self.doc.project))

    # -- play and pause -----------------------------------------------------------------------
    def step_playhead(self, delta: int) -> None:
        """Frame by frame, between the start and the end of the timeline (not past it)."""
        self.timeline.set_playhead(min(self.timeline.playhead + delta, max(self.doc.project.duration, 0)))

    def toggle_play(self) -> None:
        if self.play_timer.isActive():
            self.stop_playback()
            return
        project = self.doc.project
        if self.timeline.playhead >= project.duration:
            self.timeline.set_playhead(0)
        self.monitor.end_preview()
        self.player.play(copy.deepcopy(project), self.timeline.playhead / project.fps)
        self._noted = False
        self.play_timer.start(TICK_MS)
        self._play_state_changed()

    def stop_playback(self) -> None:
        """Stop the picture and the sound (also a scrub snippet still playing)."""
        self.player.stop()
        if self.play_timer.isActive():
            self.play_timer.stop()
            self._play_state_changed()

    def _play_state_changed(self) -> None:
        self.actions_by_name["play"].setIcon(app_icon("pause" if self.play_timer.isActive() else "play"))
        self.show_playhead()

    def _tick(self) -> None:
        project = self.doc.project
        # the frame on screen while this sample is heard: frame k covers [k / fps, (k + 1) / fps)
        frame = int(self.player.position_s() * project.fps + 1e-6)
        if frame >= project.duration:
            self.stop_playback()
            frame = project.duration
        if self.player.no_device and not self._noted:
            self._noted = True
            self.monitor.set_sound(self.player.volume, self.player.muted, self.player.no_device)
        if frame != self.timeline.playhead:
            self.timeline.set_playhead(frame, follow=True)
            prefetch_at(project, frame + FrameCache.BLOCK // 2, self.frames)  # decode ahead
