"""Frozen entry point of the console `t2vz` executable (see t2vz.spec)."""

import sys

from t2vz_desktop.cli import main

if __name__ == "__main__":
    sys.exit(main())
