#!/usr/bin/env bash
# Build the Linux bundle of t2vz-desktop: a PyInstaller one-folder bundle with the windowed
# `t2vz-desktop` and the console `t2vz` side by side, then a .deb and a portable .tar.gz.
#
#   packaging/build_linux.sh [--torch cpu|cuda] [--python PY] [--out DIR] [--fast]
#                            [--no-deb] [--no-tar] [--no-pose]
#
#   --torch cpu|cuda  which torch the bundle must hold; the build uses the torch installed in
#                     PY's environment and stops if it is the other flavour. For CUDA, install
#                     the CUDA wheel first (e.g. into a venv) and pass that venv's python.
#                     Default: whatever is installed. The flavour is recorded in
#                     resources/build_info.json inside the bundle and in the file names.
#   --python PY       interpreter whose site-packages hold the app's dependencies (default: python3)
#   --out DIR         where the bundle and packages go (default: packaging/dist)
#   --fast            fast compression (gzip -1 for the .deb and the .tar.gz), for CI
#   --no-deb/--no-tar skip a package; --no-pose leaves MediaPipe out of the bundle
#
# Needs: PyInstaller at the version in packaging/requirements-build.txt, dpkg-deb for the .deb,
# libportaudio2 (the bundle carries it: sound on systems without it).
# Heavy steps run under `nice` (NICE=19 by default) so that the machine stays usable.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY=python3
TORCH=""
OUT="$ROOT/packaging/dist"
FAST=0
DEB=1
TAR=1
POSE=1
NICE="${NICE:-19}"

while [ $# -gt 0 ]; do
    case "$1" in
        --torch) TORCH="$2"; shift 2 ;;
        --python) PY="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        --fast) FAST=1; shift ;;
        --no-deb) DEB=0; shift ;;
        --no-tar) TAR=0; shift ;;
        --no-pose) POSE=0; shift ;;
        -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "build_linux.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    esac
done
case "$TORCH" in ""|cpu|cuda) ;; *) echo "build_linux.sh: --torch takes cpu or cuda" >&2; exit 2 ;; esac

say() { printf '\n== %s\n' "$*"; }
die() { printf 'build_linux.sh: %s\n' "$*" >&2; exit 1; }
run_nice() { nice -n "$NICE" "$@"; }

started=$(date +%s)
VERSION=$("$PY" -c "import re,sys; print(re.search(r'__version__ = \"(.+?)\"', open(sys.argv[1]).read()).group(1))" \
    "$ROOT/t2vz_desktop/__init__.py")
PYI_WANTED=$(sed -n 's/^pyinstaller==//p' "$ROOT/packaging/requirements-build.txt")
PYI_HAVE=$("$PY" -c "import PyInstaller; print(PyInstaller.__version__)" 2>/dev/null) \
    || die "PyInstaller is not installed for $PY: pip install -r packaging/requirements-build.txt"
[ "$PYI_HAVE" = "$PYI_WANTED" ] || echo "warning: PyInstaller $PYI_HAVE, the tested pin is $PYI_WANTED" >&2

say "torch flavour"
read -r TORCH_VERSION TORCH_CUDA < <("$PY" -c "import torch; print(torch.__version__, torch.version.cuda or 'none')") \
    || die "torch does not import with $PY"
if [ "$TORCH_CUDA" = none ]; then FLAVOUR=cpu; else FLAVOUR="cuda$TORCH_CUDA"; fi
if [ "$TORCH" = cpu ] && [ "$FLAVOUR" != cpu ]; then
    die "--torch cpu, but $PY has torch $TORCH_VERSION (CUDA $TORCH_CUDA); use an environment with the CPU wheel"
fi
if [ "$TORCH" = cuda ] && [ "$FLAVOUR" = cpu ]; then
    die "--torch cuda, but $PY has the CPU build torch $TORCH_VERSION; install a CUDA wheel there first"
fi
echo "torch $TORCH_VERSION -> flavour $FLAVOUR"
ARCH=$(uname -m)
if [ "$FLAVOUR" = cpu ]; then TAG=cpu; else TAG="cu${TORCH_CUDA//./}"; fi  # as PyTorch names them: cu124
NAME="t2vz-desktop-$VERSION-linux-$ARCH-$TAG"

DEMO="$ROOT/resources/models/demo/model_index.json"
if [ -f "$DEMO" ]; then HAS_DEMO=true; else
    HAS_DEMO=false
    echo "WARNING: the built-in demo model is missing (resources/models/demo): the bundle will have none," >&2
    echo "         and its smoke test will fail at the demo-model step. Make it with" >&2
    echo "         python -m t2vz_desktop.demo_model.train --out resources/models/demo" >&2
fi
if [ "$POSE" = 1 ] && ! "$PY" -c "import mediapipe" 2>/dev/null; then
    echo "MediaPipe is not installed: the bundle has no pose extraction (tools/install_pose.sh adds it)" >&2
    POSE=0
fi

WORK="$OUT/work"
mkdir -p "$OUT" "$WORK"
INFO="$WORK/build_info.json"
"$PY" - "$INFO" <<EOF
import json, platform, sys
info = {
    "app_version": "$VERSION",
    "torch_version": "$TORCH_VERSION",
    "torch_flavour": "$FLAVOUR",
    "cuda_version": None if "$TORCH_CUDA" == "none" else "$TORCH_CUDA",
    "platform": f"linux-{platform.machine()}",
    "python": platform.python_version(),
    "pyinstaller": "$PYI_HAVE",
    "demo_model": $( [ "$HAS_DEMO" = true ] && echo True || echo False ),
    "pose": $( [ "$POSE" = 1 ] && echo True || echo False ),
    "built": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
}
json.dump(info, open(sys.argv[1], "w"), indent=2)
print(json.dumps(info))
EOF

say "PyInstaller (one folder, two executables)"
BUNDLE="$OUT/t2vz"
rm -rf "$BUNDLE"
t0=$(date +%s)
T2VZ_BUILD_INFO="$INFO" T2VZ_WITH_POSE="$POSE" run_nice "$PY" -m PyInstaller --noconfirm --log-level WARN \
    --distpath "$OUT" --workpath "$WORK/pyinstaller" "$ROOT/packaging/t2vz.spec"
echo "pyinstaller took $(( $(date +%s) - t0 )) s"
for exe in t2vz-desktop t2vz; do [ -x "$BUNDLE/$exe" ] || die "the bundle has no $exe"; done
# for the portable .tar.gz: what a user copies to ~/.local/share to get a menu entry (README)
mkdir -p "$BUNDLE/share"
cp "$ROOT/packaging/linux/t2vz-desktop.desktop" "$ROOT/packaging/linux/t2vz-desktop-mime.xml" "$BUNDLE/share/"
cp "$ROOT/resources/icons/app.svg" "$BUNDLE/share/t2vz-desktop.svg"
BUNDLE_BYTES=$(du -sb "$BUNDLE" | cut -f1)
echo "bundle: $BUNDLE ($(( BUNDLE_BYTES / 1048576 )) MiB unpacked)"

if [ "$FAST" = 1 ]; then GZ="gzip -1"; DEBZ=(-Zgzip -z1); else GZ="gzip -9"; DEBZ=(-Zxz -z6); fi
if command -v pigz >/dev/null; then GZ="p$GZ"; fi

if [ "$TAR" = 1 ]; then
    say "portable .tar.gz"
    t0=$(date +%s)
    TARBALL="$OUT/$NAME.tar.gz"
    run_nice tar -C "$OUT" --transform "s,^t2vz,$NAME," -I "$GZ" -cf "$TARBALL" t2vz
    echo "$TARBALL: $(( $(stat -c %s "$TARBALL") / 1048576 )) MiB, $(( $(date +%s) - t0 )) s"
fi

if [ "$DEB" = 1 ]; then
    say ".deb"
    command -v dpkg-deb >/dev/null || die "dpkg-deb not found (apt-get install dpkg), or pass --no-deb"
    t0=$(date +%s)
    STAGE="$WORK/deb"
    rm -rf "$STAGE"
    mkdir -p "$STAGE/DEBIAN" "$STAGE/opt" "$STAGE/usr/bin" "$STAGE/usr/share/applications" \
        "$STAGE/usr/share/icons/hicolor/scalable/apps" "$STAGE/usr/share/mime/packages" \
        "$STAGE/usr/share/doc/t2vz-desktop"
    cp -al "$BUNDLE" "$STAGE/opt/t2vz-desktop"  # hard links: no second copy on disk
    for exe in t2vz-desktop t2vz; do
        printf '#!/bin/sh\nexec /opt/t2vz-desktop/%s "$@"\n' "$exe" > "$STAGE/usr/bin/$exe"
        chmod 755 "$STAGE/usr/bin/$exe"
    done
    install -m 644 "$ROOT/packaging/linux/t2vz-desktop.desktop" "$STAGE/usr/share/applications/"
    install -m 644 "$ROOT/resources/icons/app.svg" "$STAGE/usr/share/icons/hicolor/scalable/apps/t2vz-desktop.svg"
    install -m 644 "$ROOT/packaging/linux/t2vz-desktop-mime.xml" "$STAGE/usr/share/mime/packages/t2vz-desktop.xml"
    install -m 644 "$INFO" "$STAGE/usr/share/doc/t2vz-desktop/build_info.json"
    # No maintainer scripts: the desktop-file, MIME and icon caches are refreshed by the dpkg
    # triggers of desktop-file-utils, shared-mime-info and the icon themes, on install and removal.
    sed -e "s/@VERSION@/$VERSION/" -e "s/@FLAVOUR@/$FLAVOUR/" \
        -e "s/@SIZE@/$(( BUNDLE_BYTES / 1024 ))/" \
        -e "s/@ARCH@/$(dpkg --print-architecture 2>/dev/null || echo amd64)/" \
        "$ROOT/packaging/linux/control.in" > "$STAGE/DEBIAN/control"
    DEBFILE="$OUT/$NAME.deb"
    run_nice dpkg-deb --root-owner-group "${DEBZ[@]}" --build "$STAGE" "$DEBFILE"
    rm -rf "$STAGE"
    echo "$DEBFILE: $(( $(stat -c %s "$DEBFILE") / 1048576 )) MiB, $(( $(date +%s) - t0 )) s"
fi

say "done in $(( $(date +%s) - started )) s"
ls -la "$OUT"
