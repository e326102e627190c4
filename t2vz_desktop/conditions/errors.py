"""The one error type of the conditions package besides media.MediaError."""


class ConditionError(ValueError):
    """A condition cannot be made as asked (missing optional package or model, bad option).

    A ValueError, so the command line treats it as bad input: one line, exit code 2.
    """
