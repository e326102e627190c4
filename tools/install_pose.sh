#!/usr/bin/env bash
# Optional: pose extraction from any video of a person, on the machine, with no download.
# mediapipe 0.10.14 is the last release that ships its pose models in the wheel. Its declared
# dependencies would pull opencv-contrib-python (which clashes with opencv-python-headless and
# brings Qt plugins that clash with PySide6), jax and sounddevice, none of which pose needs, so
# it is installed without them and only what it really imports is added.
set -euo pipefail
pip install --no-deps mediapipe==0.10.14
pip install absl-py attrs flatbuffers "protobuf<5,>=4.25.3" matplotlib
