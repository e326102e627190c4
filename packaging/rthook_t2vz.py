"""PyInstaller runtime hook: runs in both executables before their launcher.

- A windowed executable on Windows/macOS has no console, so sys.stdout/sys.stderr are None;
  tqdm, logging and print would then raise. Point them at the null device instead.
- The bundle never talks to the Hugging Face hub on its own: models come from the local cache,
  the Models folder or a path the user picks (the engine passes local_files_only already).
- sounddevice looks for PortAudio with ctypes.util.find_library, which on Linux asks ldconfig and
  never looks in the bundle: the libportaudio.so.2 the build collected is offered first, so the
  portable .tar.gz plays sound on a system without libportaudio2.
"""

import os
import sys

for _name in ("stdout", "stderr"):
    if getattr(sys, _name) is None:
        setattr(sys, _name, open(os.devnull, "w", encoding="utf-8"))

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

if sys.platform.startswith("linux") and hasattr(sys, "_MEIPASS"):
    import ctypes.util

    _portaudio = os.path.join(sys._MEIPASS, "libportaudio.so.2")
    if os.path.isfile(_portaudio):
        _find_library = ctypes.util.find_library
        ctypes.util.find_library = lambda name: _portaudio if name == "portaudio" else _find_library(name)
