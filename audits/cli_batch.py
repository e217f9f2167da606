"""``python -m audits batch --model DIR --out DIR [--ray ADDRESS] [--workers N] [--no-protocol]``.

The model card's audits over every user (not a sample): bias, objectives,
content filter, trade-off sweep and source shares, with the per-user work on
recengine's batch machinery (:mod:`audits.batch_audit`), and the offline
protocol once, as one task beside the blocks (``--no-protocol`` leaves it out:
no worker can share that task, and on a large catalogue it is long). It
lives under ``python -m audits`` rather than ``python -m recengine batch``
because the audits are the audits package's and recengine never imports it.
Writes ``audit.json`` (every figure) and ``per_user.parquet`` (the bias
audit's per-user figures) into ``--out``. Heavy modules load inside
:func:`run_batch`, so ``python -m audits --help`` stays light.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .cli_options import add_list_options, parse_weights

if TYPE_CHECKING:  # the verb loads the audit (and its heavy imports) inside run_batch
    from .batch_audit import BatchAudit

FILES = ("audit.json", "per_user.parquet")


def add_batch_parser(sub) -> argparse.ArgumentParser:
    """Register the ``batch`` verb on the ``python -m audits`` subparsers."""
    from recengine.cli.batch import add_batch_options

    p = sub.add_parser("batch", help="the model card's audits over every user, and the "
                                     "offline protocol once (on Ray or in-process)")
    add_batch_options(p)
    add_list_options(p)
    p.add_argument("--n-boot", type=int, default=500, help="bootstrap resamples (default 500)")
    p.add_argument("--no-protocol", action="store_true",
                   help="leave out the offline protocol (one task that fits baselines on "
                        "the whole catalogue: long on a large one)")
    return p


def run_batch(args) -> int:
    from recengine.cli.batch import batch_config
    from recengine.policy import ContentPolicy
    from recengine.subject import Subject

    from .batch_audit import batch_audit, to_dict
    from .card_data import ReportConfig
    from .card_format import jsonable

    batch = batch_config(args)
    cfg = ReportConfig(k=args.k, seed=args.seed, n_boot=args.n_boot, objective=args.objective,
                       weights=parse_weights(args.weights),
                       policy=ContentPolicy(blocked_labels=tuple(args.block_label),
                                            blocked_genres=tuple(args.block_genre)),
                       include_protocol=not args.no_protocol)
    if not Path(args.model).is_dir():
        raise FileNotFoundError(f"{args.model}: no such model directory")
    out = Path(args.out)
    taken = [str(out / f) for f in FILES if (out / f).exists()]
    if taken:
        raise ValueError(f"{taken[0]} already exists: choose another --out or remove it")
    subject = Subject.load(args.model)
    start = time.perf_counter()
    audit = batch_audit(subject, cfg, batch)
    seconds = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    audit.bias.per_user.to_parquet(out / "per_user.parquet", index=False)
    doc = {**to_dict(audit), "seconds": seconds, "model": str(args.model)}
    (out / "audit.json").write_text(json.dumps(jsonable(doc), indent=2, allow_nan=False),
                                    encoding="utf-8")
    print(f"wrote {out / 'audit.json'}, {out / 'per_user.parquet'} ({len(audit.users)} users, "
          f"{seconds:.1f} s, {audit.where})")
    for line in headlines(audit, cfg.k):
        print(f"  {line}")
    return 0


def headlines(audit: BatchAudit, k: int) -> list[str]:
    """A few lines of what the new-to-batch figures say; every figure is in audit.json."""
    src = audit.sources
    shares = ", ".join(f"{r['source']} {r['share']:.0%}" for r in src["sources"] if r["slots"])
    sweep = audit.tradeoff
    blends = sweep[sweep["setting"] == "blend"]
    served = sweep.iloc[0]
    lines = [f"sources of the {src['slots']:,} shown slots: {shares} "
             f"(several sources: {src['several_sources_share']:.0%})",
             f"trade-off: {len(blends)} blend settings, {int(blends['pareto'].sum())} on the "
             f"front; served: rating {served['mean_predicted_rating']:.3f}, watch minutes "
             f"{served['expected_watch_minutes']:.2f}, profit {served['expected_profit']:.3f} "
             "per slot"]
    p = audit.protocol
    if p is None:
        lines.append("offline protocol: left out (--no-protocol)")
    else:
        rec = p.uncertainty[f"recall@{k}"]
        lines.append(f"offline protocol ({p.where}, {p.seconds:.1f} s): pipeline "
                     f"Recall@{k} {rec['value']:.3f} [{rec['ci_low']:.3f}, {rec['ci_high']:.3f}]"
                     f" over {p.uncertainty['users']:,} test users")
    return lines
