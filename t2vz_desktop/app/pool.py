"""Work on Qt's thread pools: handing a result back to the GUI thread from a pool thread."""

from __future__ import annotations


def emit_if_alive(signal, *args) -> None:
    """Emit `signal` (of a QObject that may be gone) from a pool thread. The window or dialog that
    asked may have closed while the job ran: PySide then raises "Signal source has been deleted"
    on the pool thread, which Qt Concurrent reports as an unsupported exception. Nobody is left to
    tell, so the result is dropped."""
    try:
        signal.emit(*args)
    except RuntimeError:
        pass
