"""`python main.py` opens the desktop app; `python main.py generate ...` runs the command line."""

import sys

if __name__ == "__main__":
    # the app takes --self-test (anywhere) or a .t2vz project to open; anything else is the command line
    if len(sys.argv) > 1 and "--self-test" not in sys.argv and not sys.argv[1].endswith(".t2vz"):
        from t2vz_desktop.cli import main

        sys.exit(main(sys.argv[1:]))
    from t2vz_desktop.app.main import main as app_main

    sys.exit(app_main())
