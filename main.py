"""`python main.py` opens the desktop app; `python main.py generate ...` runs the command line."""

import sys

if __name__ == "__main__":
    if len(sys.argv) > 1 and not sys.argv[1].startswith("--self-test"):
        from t2vz_desktop.cli import main

        sys.exit(main(sys.argv[1:]))
    from t2vz_desktop.app.main import main as app_main

    sys.exit(app_main())
