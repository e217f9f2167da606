"""``python -m audits report --model DIR --out FILE.md [--json FILE.json] [options]``.

Also ``python -m audits simulate ...``: the feedback-loop simulator
(:mod:`audits.cli_simulate`), and ``python -m audits batch ...``: the audits
over every user on Ray or in-process (:mod:`audits.cli_batch`).

Loads the system with :meth:`recengine.subject.Subject.load` (the bundle and
the data its metadata names, refused if the data changed), the same subject the
app's pages audit, runs every audit and writes the model card. Errors the user
can fix print one ``error: ...`` line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .cli_options import add_list_options, parse_weights  # light: no Keras


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m audits",
                                     description="Audit a trained recommender.")
    sub = parser.add_subparsers(dest="verb", required=True)
    rep = sub.add_parser("report", help="write the model card (Markdown, JSON)")
    rep.add_argument("--model", required=True, help="bundle directory (python -m recengine "
                                                    "train --out DIR)")
    rep.add_argument("--out", required=True, help="Markdown file to write")
    rep.add_argument("--json", help="also write the card as JSON here")
    rep.add_argument("--users", type=int, default=200, help="users sampled (default 200)")
    add_list_options(rep)
    rep.add_argument("--no-protocol", action="store_true",
                     help="skip the offline evaluation (faster)")
    rep.add_argument("--simulate-rounds", type=int, default=0,
                     help="feedback-loop rounds to simulate for the card (default 0: none; "
                          "synthetic data only)")
    rep.add_argument("--simulate-seeds", type=int, default=2,
                     help="seeds per simulated arm (default 2)")
    from .cli_simulate import add_simulate_parser  # light: no Keras

    add_simulate_parser(sub)
    from .cli_batch import add_batch_parser  # light: no Keras, no Ray

    add_batch_parser(sub)
    return parser


def run_report(args) -> int:
    from recengine.policy import ContentPolicy
    from recengine.subject import Subject

    from .report import ReportConfig, build_report

    if not Path(args.model).is_dir():
        raise FileNotFoundError(f"{args.model}: no such model directory")
    cfg = ReportConfig(n_users=args.users, k=args.k, seed=args.seed, objective=args.objective,
                       weights=parse_weights(args.weights),
                       policy=ContentPolicy(blocked_labels=tuple(args.block_label),
                                            blocked_genres=tuple(args.block_genre)),
                       include_protocol=not args.no_protocol,
                       simulate_rounds=args.simulate_rounds, simulate_seeds=args.simulate_seeds)
    card = build_report(Subject.load(args.model), cfg)
    out = Path(args.out)
    out.write_text(card.to_markdown(), encoding="utf-8")
    written = [str(out)]
    if args.json:
        Path(args.json).write_text(card.to_json(), encoding="utf-8")
        written.append(args.json)
    print("wrote " + ", ".join(written))
    return 0


def main(argv: list[str] | None = None) -> int:
    from recengine.bundle_io import BundleError
    from recengine.schema import DataError

    from .cli_batch import run_batch
    from .cli_simulate import run_simulate

    args = build_parser().parse_args(argv)
    runs = {"simulate": run_simulate, "batch": run_batch}
    try:
        return runs.get(args.verb, run_report)(args)
    except (DataError, BundleError, KeyError, ValueError, FileNotFoundError, OSError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
