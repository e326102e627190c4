"""The PySide6 desktop app. Only this package imports Qt; it drives the engine through its job
API on a worker thread (worker.py) and keeps the timeline in plain Python (project.py)."""
