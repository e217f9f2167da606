"""The command line: each verb is one module here with ``NAME``, ``HELP``,
``configure(parser)`` and ``run(args) -> int`` (LensKit's one-verb-a-file).

Errors the user can fix (unknown ids, bad data, a refused bundle) print one
line on stderr and exit non-zero; they never show a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from ..bundle_io import BundleError
from ..schema import DataError


def _verbs():
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(mod, "NAME") and hasattr(mod, "run"):
            yield mod


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m recengine",
                                     description="Two-tower recommender: train, recommend, "
                                                 "explain, evaluate.")
    sub = parser.add_subparsers(dest="verb", required=True)
    for mod in _verbs():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.configure(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    # a verb that hands its arguments on (``batch audit``) sets ``passes_unknown``; for
    # every other verb an argument it does not know is an error, as parse_args makes it
    if unknown and not vars(args).get("passes_unknown", False):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    args.unknown = unknown
    try:
        return int(args._run(args) or 0)
    except (DataError, BundleError, KeyError, ValueError, FileNotFoundError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {msg}", file=sys.stderr)
        return 2
