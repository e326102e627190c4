#!/usr/bin/env bash
# One command for the GPU figures (issues 10 and 25). SD 1.5's exact UNet/VAE/text-encoder
# configurations with random weights (no download), fp16, 512x512, 50 DDIM steps, guidance 7.5:
# seconds per 8-frame video for diffusers' TextToVideoZeroPipeline and for this engine: eager
# (--speed exact), the default level (--speed auto: regional compile + channels-last, its first
# run timed too), each fast mode (--speed cache, merge, cache+merge), and whole-UNet
# channels-last / torch.compile / CUDA graphs; frame 0 in fp16 and bf16 against fp32; the time
# outside the denoising loop by stage; peak GPU memory at 8, 64 and 256 frames; the preview's cost.
# `--budget-s 280 --mem-frames 8 --repeat 2 --options compile-cl` keeps it within ~5 minutes.
# It prints the tables; copy them into benchmarks/RESULTS.md with the device name and date.
#
#   bash benchmarks/gpu.sh --download-wheels   # here, once: the wheels the GPU image lacks -> .whl/
#   bash benchmarks/gpu.sh                     # on the GPU machine (device tool: carry [".whl"])
#   bash benchmarks/gpu.sh --tiny              # CPU smoke run with tiny components (a test runs it)
#   GPU_SCRIPT=eager_profile.py bash benchmarks/gpu.sh   # another script of benchmarks/, same set-up
#   GPU_SCRIPT=compare.py bash benchmarks/gpu.sh --sdxl-random --frames 8 --variants engine diffusers \
#       --out "$OUT/sdxl"   # SDXL base 1.0's configurations, random fp16 weights (VAE fp32), 1024x1024:
#                           # the engine against TextToVideoZeroSDXLPipeline, seconds and peak memory (issue 27)
#
# The GPU image has CUDA torch, transformers and accelerate but not diffusers or PyAV, and it
# cannot download: they travel as wheels in .whl/ (ignored by git through .git/info/exclude:
# `echo /.whl/ >> .git/info/exclude`; ~42 MB, inside the device tool's 64 MiB limit together
# with the working tree) and are installed into /tmp/site for this run only.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--download-wheels" ]; then
    mkdir -p .whl
    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d .whl "diffusers==0.42.1" "av==18.1.0" "importlib_metadata==10.2.0"
    exit 0
fi

if ! python3 -c "import diffusers, av" >/dev/null 2>&1; then
    if ! ls .whl/diffusers-*.whl >/dev/null 2>&1; then
        echo "gpu.sh: diffusers/av are not installed and .whl/ holds no wheels: run 'bash benchmarks/gpu.sh --download-wheels' where pip works, and carry .whl" >&2
        exit 2
    fi
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
exec python3 -W ignore benchmarks/${GPU_SCRIPT:-gpu_bench.py} "$@"
