"""Cancelling a job between denoising steps; no torch here, so the app can hold a token."""


class Cancelled(Exception):
    """The user cancelled the job; nothing is written."""


class CancelToken:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True
