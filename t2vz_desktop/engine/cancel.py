"""Cancelling a job between denoising steps; no torch here, so the app can hold a token."""


class Cancelled(Exception):
    """The user cancelled the job; nothing is written."""


class CancelToken:
    """Held by whoever may stop a job: `cancel` stops it (nothing is written); `skip_optimising`
    lets it go on without waiting for the first-time compilation (it then runs eagerly)."""

    def __init__(self) -> None:
        self.cancelled = False
        self.skipped = False

    def cancel(self) -> None:
        self.cancelled = True

    def skip_optimising(self) -> None:
        self.skipped = True
