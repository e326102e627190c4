"""`t2vz models list | download ID [--variant fp16] | remove ID | verify [ID]`: the model manager
at the command line (engine/model_store.py does the work; the app's dialog uses the same)."""

from __future__ import annotations

import argparse
import sys

from .request import RequestError


def add_models_command(sub) -> None:
    m = sub.add_parser("models", help="list, download, remove or verify models",
                       description="The models on this machine (Hugging Face cache and Models folder) and known-good "
                                   "ones to download.")
    ops = m.add_subparsers(dest="operation", required=True, metavar="OPERATION")
    ops.add_parser("list", help="what is installed, and the known-good models to download")
    d = ops.add_parser("download", help="fetch a model from the hub into the local cache (resumable)")
    d.add_argument("repo_id", help="hub id, e.g. lllyasviel/sd-controlnet-canny")
    d.add_argument("--variant", help="weights variant, e.g. fp16 (default: the known model's, else the plain weights)")
    d.add_argument("--revision", help="branch, tag or commit (default: main)")
    d.add_argument("--allow-unsafe-pickle", action="store_true",
                   help="also fetch pickle (.bin/.ckpt) weights where a model has no .safetensors")
    d.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    r = ops.add_parser("remove", help="delete a model from the local cache")
    r.add_argument("repo_id")
    v = ops.add_parser("verify", help="check cached files against their hashes")
    v.add_argument("repo_id", nargs="?", help="one model (default: every cached one)")
    m.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from .model_settings import ModelError
    from .model_store import HubFailure

    if getattr(args, "repo_id", None) is not None:  # given, even empty ("" is no id, not "every model")
        _check_hub_id(args.repo_id)
    _check_cache_folder()
    try:
        return {"list": _list, "download": _download, "remove": _remove, "verify": _verify}[args.operation](args)
    except HubFailure:
        raise  # not bad input: cli.main says "failed" and exits 1
    except ModelError as e:
        raise RequestError(str(e)) from e


def _check_hub_id(repo_id: str) -> None:
    """Refuse what the hub would refuse (huggingface_hub's own rules: no leading or trailing '-' or
    '.', no '--' or '..', no '.git' ending, 96 characters), before a request would call it a
    network problem. RequestError: one line."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    from .model_settings import HUB_ID

    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        ok = False
    else:
        ok = bool(HUB_ID.fullmatch(repo_id))  # owner/name: the hub also takes a bare name
    if not ok:
        raise RequestError(f"{repo_id!r} is not a hub id (owner/name)")


def _check_cache_folder() -> None:
    """The Hugging Face cache (HF_HUB_CACHE, else HF_HOME/hub) must be a folder where it exists."""
    from pathlib import Path

    from huggingface_hub import constants

    cache = Path(constants.HF_HUB_CACHE)
    for folder in (cache, *cache.parents):
        if folder.exists():
            if not folder.is_dir():
                raise RequestError(f"the Hugging Face cache {cache} cannot be a folder: {folder} is a file "
                                   "(see HF_HUB_CACHE and HF_HOME)")
            return


def _gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**28 else f"{n / 2**20:.1f} MiB"


def _list(args) -> int:
    from .model_store import CURATED, installed_models

    models = installed_models()
    print("Installed:" if models else "Installed: none")
    for m in models:
        print(f"  {m.name:<56} {m.kind:<10} {_gib(m.bytes):>10}  {m.where}")
    have = {m.name for m in models}
    print("\nKnown-good models to download (t2vz models download ID):")
    for k in CURATED:
        mark = "installed" if k.repo_id in have else ""
        print(f"  {k.repo_id:<56} {k.kind:<10} {k.licence:<24} {k.what} {mark}".rstrip())
    return 0


def _download(args) -> int:
    from tqdm import tqdm

    from .model_store import CURATED, DownloadCancelled, download, plan_download

    variant = args.variant or next((k.variant for k in CURATED if k.repo_id == args.repo_id), None)
    plan = plan_download(args.repo_id, variant, args.allow_unsafe_pickle, args.revision)
    print(f"{args.repo_id}: {len(plan.files)} files, {_gib(plan.bytes)}", file=sys.stderr)
    bar = None if args.quiet else tqdm(total=plan.bytes, unit="B", unit_scale=True, desc="downloading", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.update(done - bar.n)

    try:
        folder = download(plan, progress)
    except (DownloadCancelled, KeyboardInterrupt):
        raise RequestError(f"download of {args.repo_id} cancelled; nothing of it was kept")
    finally:
        if bar is not None:
            bar.close()
    print(folder)
    return 0


def _remove(args) -> int:
    from .model_store import remove

    freed = remove(args.repo_id)
    print(f"removed {args.repo_id} ({_gib(freed)})", file=sys.stderr)
    return 0


def _verify(args) -> int:
    from .model_store import cached_repo_ids, verify

    names = [args.repo_id] if args.repo_id else cached_repo_ids()
    if not names:
        print("no models in the Hugging Face cache to verify (the built-in demo model ships with the app)")
        return 0
    failed = 0
    for name in names:
        bad = verify(name)
        print(f"{name}: " + ("ok" if not bad else f"{len(bad)} damaged file(s): {', '.join(bad)}"))
        failed += bool(bad)
    if failed:
        raise RequestError(f"{failed} model(s) have damaged files: `t2vz models remove ID` and download them again")
    return 0
