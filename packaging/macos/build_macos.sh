#!/usr/bin/env bash
# macOS recipe (cannot be built on the Linux machine this project is developed on; the CI
# workflow .github/workflows/packaging.yml runs it on a macos-14 runner):
#
#   packaging/macos/build_macos.sh [--out DIR]
#
# 1. PyInstaller with the shared spec: dist/t2vz-desktop.app, whose Contents/MacOS holds the
#    windowed t2vz-desktop (no console window: LSUIElement is not set, the app has a Dock icon)
#    and the console t2vz; .t2vz projects open with the app (CFBundleDocumentTypes in the spec).
# 2. Ad-hoc code signature (the app then runs on the machine that built it; for other Macs sign
#    with a Developer ID and notarize: set CODESIGN_IDENTITY, see packaging/README.md).
# 3. A compressed .dmg with the app and a link to /Applications.
# torch on macOS is the one wheel (CPU + Apple MPS); build_info.json records "mps".
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="$ROOT/packaging/dist"
[ "${1:-}" = --out ] && OUT="$2"
PY="${PYTHON:-python3}"
VERSION=$("$PY" -c "import sys; sys.path.insert(0, '$ROOT'); import t2vz_desktop; print(t2vz_desktop.__version__)")
ARCH=$(uname -m)
mkdir -p "$OUT/work"

"$PY" "$ROOT/packaging/make_icons.py"
"$PY" - "$OUT/work/build_info.json" <<PYEOF
import json, platform, sys, torch
json.dump({"app_version": "$VERSION", "torch_version": torch.__version__, "torch_flavour": "mps",
           "cuda_version": None, "platform": f"macos-{platform.machine()}",
           "python": platform.python_version()}, open(sys.argv[1], "w"), indent=2)
PYEOF
T2VZ_BUILD_INFO="$OUT/work/build_info.json" "$PY" -m PyInstaller --noconfirm \
    --distpath "$OUT" --workpath "$OUT/work/pyinstaller" "$ROOT/packaging/t2vz.spec"
APP="$OUT/t2vz-desktop.app"
[ -x "$APP/Contents/MacOS/t2vz-desktop" ] && [ -x "$APP/Contents/MacOS/t2vz" ] || { echo "no executables in $APP" >&2; exit 1; }

codesign --force --deep --sign "${CODESIGN_IDENTITY:--}" "$APP"

STAGE="$OUT/work/dmg"
rm -rf "$STAGE"; mkdir -p "$STAGE"
cp -R "$APP" "$STAGE/"
ln -s /Applications "$STAGE/Applications"
DMG="$OUT/t2vz-desktop-$VERSION-macos-$ARCH.dmg"
rm -f "$DMG"
hdiutil create -volname "t2vz-desktop $VERSION" -srcfolder "$STAGE" -fs HFS+ -format UDZO -ov "$DMG"
rm -rf "$STAGE"
du -sh "$APP" "$DMG"
