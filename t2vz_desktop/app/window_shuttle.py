"""J/K/L shuttle in the main window (mixed in): L plays forward and each further L doubles the
speed (1x, 2x, 4x, 8x); J plays backward likewise; K stops. 1x forward is ordinary playback,
with its sound; the other speeds move the picture alone, on the wall clock."""

from __future__ import annotations

from PySide6.QtCore import QElapsedTimer, Qt, QTimer

SPEEDS = (1, 2, 4, 8)  # times the project's frame rate
SHUTTLE_TICK_MS = 15


class ShuttleMixin:
    """Slots of MainWindow for J/K/L; reads self.doc, self.timeline and the playback mixin's
    play_timer, toggle_play and stop_playback."""

    def _init_shuttle(self) -> None:
        self.shuttle_speed = 0  # signed times the frame rate; 0: the shuttle is not running
        self.shuttle_timer = QTimer(self)
        self.shuttle_timer.setTimerType(Qt.PreciseTimer)
        self.shuttle_timer.timeout.connect(self._shuttle_tick)
        self._shuttle_clock = QElapsedTimer()
        self._shuttle_origin = 0

    @property
    def playing_speed(self) -> int:
        """Signed speed of what plays now: 1 for ordinary playback, 0 when stopped."""
        return 1 if self.play_timer.isActive() else self.shuttle_speed

    def shuttle(self, direction: int) -> None:
        """L (1) or J (-1): start that way at 1x, or double the speed when already going that way."""
        now = self.playing_speed
        if now * direction > 0:
            speed = direction * min(abs(now) * 2, SPEEDS[-1])
        else:
            speed = direction
        self.shuttle_stop()
        if speed == 1:
            self.toggle_play()  # ordinary playback: the sound plays too
        else:
            project = self.doc.project
            if speed > 0 and self.timeline.playhead >= project.duration:
                self.timeline.set_playhead(0)
            self.shuttle_speed = speed
            self._shuttle_origin = self.timeline.playhead
            self._shuttle_clock.start()
            self.shuttle_timer.start(SHUTTLE_TICK_MS)
            self.show_playhead()  # the play button shows the speed at once
        self.statusBar().showMessage(f"{'Forward' if speed > 0 else 'Backward'} {abs(speed)}x", 2000)

    def shuttle_stop(self) -> None:
        """K: stop the shuttle and ordinary playback."""
        self.shuttle_timer.stop()
        self.shuttle_speed = 0
        self.stop_playback()
        self.show_playhead()  # the play button says Play again

    def _shuttle_tick(self) -> None:
        project = self.doc.project
        # from the wall clock, not by counting ticks: a late tick skips frames instead of lagging
        frame = self._shuttle_origin + int(self._shuttle_clock.elapsed() / 1000 * project.fps * self.shuttle_speed)
        end = max(project.duration, 0)
        if not 0 <= frame <= end:
            frame = min(max(frame, 0), end)
            self.shuttle_timer.stop()
            self.shuttle_speed = 0
        self.timeline.set_playhead(frame, follow=True)

    def play_pause(self) -> None:
        """Space and the play button: a running shuttle stops; otherwise ordinary play or pause."""
        if self.shuttle_speed:
            self.shuttle_stop()
        else:
            self.toggle_play()
