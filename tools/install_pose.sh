#!/usr/bin/env bash
# Optional: pose extraction from any video of a person, on the machine, with no download.
# mediapipe 0.10.14 is the last release that ships its pose models in the wheel. Its declared
# dependencies would pull opencv-contrib-python (which clashes with opencv-python-headless and
# brings Qt plugins that clash with PySide6), jax and sounddevice, none of which pose needs, so
# it is installed without them and only what it really imports is added.
# pip's check after each install would then print a red "ERROR: pip's dependency resolver ..."
# naming jax, opencv-contrib-python and sounddevice as missing: that is this choice, not a failed
# install, so the check is turned off (--no-warn-conflicts) and this line says why instead.
set -euo pipefail
echo "install_pose.sh: installing mediapipe without its declared jax/opencv-contrib/sounddevice dependencies (pose does not use them)"
pip install --no-deps --no-warn-conflicts mediapipe==0.10.14
pip install --no-warn-conflicts absl-py attrs flatbuffers "protobuf<5,>=4.25.3" matplotlib
