"""Cheap facts about the machine and the model caches, found without importing torch."""

from __future__ import annotations

import os
import sys


def process_memory() -> int:
    """Bytes of memory this process uses now (resident set)."""
    try:
        import psutil

        return psutil.Process().memory_info().rss
    except ImportError:
        pass
    if sys.platform.startswith("linux"):
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    import resource  # macOS: the peak, in bytes

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def available_memory() -> int:
    """Bytes of memory the system can still give; a large number when it cannot be told."""
    try:
        import psutil

        return psutil.virtual_memory().available
    except ImportError:
        pass
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 1 << 40


def format_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit in ("B", "KB", "MB") else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"
