"""Frozen entry point of the windowed `t2vz-desktop` executable (see t2vz.spec)."""

import sys

from t2vz_desktop.app.main import main

if __name__ == "__main__":
    sys.exit(main())
