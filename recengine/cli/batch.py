"""``python -m recengine batch recommend|similar|audit --model DIR --out DIR [--ray ADDR]``.

The same work as ``recommend`` and ``similar``, for every user or every item,
written as Parquet (:mod:`recengine.batch`). ``--ray local`` (the default)
starts a quiet local Ray instance with N workers; ``--ray none`` runs the same
blocks in this process (no Ray needed); anything else is the address of an
existing cluster. The audits over every user are ``python -m audits batch``:
recengine never imports the audits, so ``batch audit`` hands its arguments to that
verb in a child process (the same Python), and its output and exit status are the
audit's own.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

NAME = "batch"
HELP = ("Run recommend, similar or the audits for every user or item, as Parquet (on Ray or "
        "in-process).")
#: the audits' own batch verb, which ``batch audit`` runs (recengine does not import audits)
AUDIT_VERB = ("-m", "audits", "batch")


def add_batch_options(parser: argparse.ArgumentParser) -> None:
    """The options every batch job shares (``python -m audits batch`` uses them too)."""
    parser.add_argument("--model", required=True, help="a saved model bundle directory")
    parser.add_argument("--out", required=True, help="folder to write the Parquet table into")
    parser.add_argument("--ray", default="local",
                        help="'local' (default: start a local instance), 'none' (in this "
                             "process, no Ray), or a cluster address (auto, ray://host:port)")
    parser.add_argument("--workers", type=int, default=2,
                        help="worker processes of a local instance (default 2)")
    parser.add_argument("--block-size", type=int, default=None,
                        help="ids per task (default: about 4 blocks per worker)")


def configure(parser: argparse.ArgumentParser) -> None:
    jobs = parser.add_subparsers(dest="job", required=True)
    rec = jobs.add_parser("recommend", help="every user's top k with sources")
    add_batch_options(rec)
    rec.add_argument("--k", type=int, default=10, help="how many items (default 10)")
    rec.add_argument("--block-label", action="append", default=[],
                     help="content label the policy removes (repeatable)")
    rec.add_argument("--block-genre", action="append", default=[],
                     help="genre the policy removes (repeatable)")
    sim = jobs.add_parser("similar", help="the similar-items table")
    add_batch_options(sim)
    sim.add_argument("--n", type=int, default=None,
                     help="neighbours per item (default: all the table holds)")
    audit = jobs.add_parser("audit", add_help=False,
                            help="the model card's audits over every user: runs `python -m "
                                 "audits batch` with these arguments (see its --help)")
    # every argument after "audit" is the audit verb's, --help included (see cli.main)
    audit.set_defaults(passes_unknown=True)


def batch_config(args: argparse.Namespace):
    from ..batch import BatchConfig

    config = BatchConfig(ray=args.ray, workers=args.workers, block_size=args.block_size)
    config.check_reachable()  # before loading anything
    return config


def run_audit(audit_args: list[str]) -> int:
    """``python -m audits batch`` with ``audit_args``, in a child process; its exit status."""
    return subprocess.call([sys.executable, *AUDIT_VERB, *audit_args])


def run(args: argparse.Namespace) -> int:
    if args.job == "audit":
        return run_audit(list(args.unknown))
    from ..batch.recommend import batch_recommend
    from ..batch.similar import batch_similar
    from ..policy import ContentPolicy
    from ..serving import load_serving_engine

    config = batch_config(args)  # refuse bad options before loading anything
    engine = load_serving_engine(args.model)
    start = time.perf_counter()
    if args.job == "recommend":
        policy = ContentPolicy(blocked_labels=tuple(args.block_label),
                               blocked_genres=tuple(args.block_genre))
        path = batch_recommend(engine, args.out, args.k,
                               None if policy.is_empty else policy, config)
    else:
        path = batch_similar(engine.similar_table, engine.index.catalogue.item_ids, args.out,
                             args.n, config)
    print(f"wrote {path} ({time.perf_counter() - start:.1f} s, {args.ray})")
    return 0
