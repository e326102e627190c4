"""t2vz-desktop: text-to-video and video editing with Text2Video-Zero."""

import os
import sys

__version__ = "0.2.0"

TRAINER_MODULE = "t2vz_desktop.demo_model.train"


def runs_module(argv: list[str], module: str) -> bool:
    """Whether ``argv`` (``sys.orig_argv``: the interpreter's own command line) runs ``module`` as
    ``python [options] -m module [args]``; options are read as CPython's command line reads them
    (grouped flags, ``-X``/``-W`` values, ``-mmodule``)."""
    args = iter(argv[1:])
    for arg in args:
        if arg == "-" or not arg.startswith("-"):
            return False  # stdin or a script; the rest are its arguments
        if arg.startswith("--"):
            if arg == "--check-hash-based-pycs":
                next(args, None)
            continue
        for i, flag in enumerate(arg[1:], 2):
            if flag in "cmXW":  # options that take a value, attached or next
                value = arg[i:] or next(args, "")
                if flag in "cm":
                    return flag == "m" and value == module
                break
    return False


# OpenMP threads that spin while they wait turn a busy CPU into a stalled one: with torch on 2
# cores beside another busy process, the demo model's 8 frames took 117 s spinning against 10 s
# waiting passively. Set before torch is imported (importing this package comes first); a value
# the user set wins. The demo model's trainer keeps OpenMP's default (spin a while, then sleep):
# it drops to one thread whenever the machine is busy (train.adapt_threads), and on quiet cores
# passive waits made its UNet step 25-30% longer (0.97 against 0.74 s in fp32; RESULTS.md).
if not runs_module(sys.orig_argv, TRAINER_MODULE):
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
