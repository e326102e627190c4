"""t2vz-desktop: text-to-video and video editing with Text2Video-Zero."""

import os
import sys

__version__ = "0.3.0"

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


def openmp_wait_policy(value: str | None) -> str:
    """What libgomp makes of an ``OMP_WAIT_POLICY`` value: "active", "passive", or "default" (unset,
    or a value it refuses: it then spins a while before sleeping). Case and spaces do not matter."""
    policy = (value or "").strip().lower()
    return policy if policy in ("active", "passive") else "default"


# OpenMP threads that spin while they wait turn a busy CPU into a stalled one: with torch on 2
# cores beside another busy process, the demo model's 8 frames took 117 s spinning against 10 s
# waiting passively. OpenMP reads the variable once, when torch loads it, so this works where the
# package is imported before torch (every entry point imports it first); a value the user set
# wins, and PASSIVE_SET_HERE tells processes started from this one that the value was ours.
# The demo model's trainer keeps OpenMP's default (spin a while, then sleep): on quiet cores
# passive waits made its UNet step about 25% longer (RESULTS.md), and it gives up a thread for
# each busy neighbour (train.ThreadAdapter).
PASSIVE_SET_HERE = "T2VZ_OMP_WAIT_POLICY_SET"


def _choose_wait_policy() -> None:
    if "torch" in sys.modules:
        return  # OpenMP has read the variable already
    if runs_module(sys.orig_argv, TRAINER_MODULE):
        policy = openmp_wait_policy(os.environ.get("OMP_WAIT_POLICY"))
        if policy == "passive" and os.environ.get(PASSIVE_SET_HERE):  # a parent's, not the user's value
            del os.environ["OMP_WAIT_POLICY"], os.environ[PASSIVE_SET_HERE]
    elif "OMP_WAIT_POLICY" not in os.environ:
        os.environ.update({"OMP_WAIT_POLICY": "PASSIVE", PASSIVE_SET_HERE: "1"})


_choose_wait_policy()
# What OpenMP uses in this process, where torch comes after this line or came before it (nothing
# above changes the variable then).
OPENMP_WAIT_POLICY = openmp_wait_policy(os.environ.get("OMP_WAIT_POLICY"))
