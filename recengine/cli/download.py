"""``python -m recengine download NAME [--url URL --sha256 HEX]``: fetch a MovieLens set.

Downloads the archive, checks its SHA-256, unpacks it safely into the cache
(``$RECENGINE_CACHE``, default ``~/.cache/recengine``) and prints the folder,
which ``--data movielens-latest:FOLDER`` (or ``download:NAME``) then reads. A
cached copy is reused. Failures (no network, wrong checksum, a damaged or
unsafe archive) are one ``error: ...`` line on stderr and exit status 2; the rules are
those of :mod:`recengine.data.download`.
"""

from __future__ import annotations

import argparse
import re

NAME = "download"
HELP = ("Download a MovieLens data set (ml-latest-small or ml-100k), verify its SHA-256, "
        "unpack it into the cache and print where.")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME",
                        help="which data set: ml-latest-small or ml-100k")
    parser.add_argument("--url", help="fetch from this address instead of GroupLens (a "
                                      "mirror, or a file:// URL to a local copy)")
    parser.add_argument("--sha256", metavar="HEX",
                        help="the archive's expected SHA-256 (64 hex digits); without it "
                             "the published digest applies, or, with --url, the first "
                             "download's digest is recorded and enforced afterwards")
    parser.add_argument("--cache", metavar="DIR",
                        help="cache folder (default $RECENGINE_CACHE, else ~/.cache/recengine)")
    parser.add_argument("--timeout", type=float, default=30,
                        help="network timeout in seconds (default 30)")


def run(args: argparse.Namespace) -> int:
    from ..data.download import KNOWN, download_movielens

    if args.name not in KNOWN:
        raise ValueError(f"unknown download {args.name!r}; valid: {', '.join(sorted(KNOWN))}")
    digest = args.sha256.strip().lower() if args.sha256 else None
    if digest is not None and not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise ValueError(f"--sha256 must be 64 hex digits, got {args.sha256!r}")
    if args.timeout <= 0:
        raise ValueError(f"--timeout must be positive, got {args.timeout}")
    folder = download_movielens(args.name, cache_dir=args.cache, url=args.url,
                                sha256=digest, timeout=args.timeout)
    print(folder)  # the path alone, so a script can use it: DATA=$(python -m ...)
    return 0
