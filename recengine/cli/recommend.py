"""``python -m recengine recommend --model DIR --user ID``: top K with the why."""

from __future__ import annotations

import argparse
import json

NAME = "recommend"
HELP = "Recommend items for a known user, showing which sources found each one."


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="a saved model bundle directory")
    parser.add_argument("--user", required=True, type=int, help="the user's id in the data")
    parser.add_argument("--k", type=int, default=10, help="how many items (default 10)")
    parser.add_argument("--json", action="store_true", help="print the full result as JSON")


def run(args: argparse.Namespace) -> int:
    from ..serving import load_serving_engine

    engine = load_serving_engine(args.model)
    result = engine.recommend(args.user, k=args.k)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
        return 0
    print(f"Top {len(result.items)} for user {args.user}. {result.ordering_rule}.")
    print(format_result(result))
    return 0


def format_result(result) -> str:
    """One block per item: rank, title, id and predicted rating, then why it is there."""
    lines = []
    for it in result.items:
        lines.append(f"{it.rank:>3}. {it.title}  [id {it.item_id}]  "
                     f"score {it.score:.3f}  predicted rating {it.predicted_rating:.2f}  "
                     f"({it.genres or 'no genre'})")
        for hit in it.sources:
            lines.append(f"       - {hit.describe()}")
        if it.demoted_by:
            lines.append(f"       - demoted by the content policy ({it.demoted_by})")
    if result.items:
        lines.append(f"\nscore: {result.score_meaning}")
    funnel = ", ".join(f"{k} {v}" for k, v in result.stage_counts.items())
    lines.append(f"\nfunnel: {funnel}")
    lines += [f"filtered: {a.title} [id {a.item_id}] {a.action} ({a.rule})"
              for a in result.filtered]
    lines += [f"note: {note}" for note in result.notes]
    return "\n".join(lines)


def format_table(frame) -> str:
    """A plain-text table, text columns left-aligned."""
    cells = frame.astype(str)
    widths = {c: max(len(c), *(len(v) for v in cells[c])) if len(cells) else len(c)
              for c in cells.columns}
    numeric = {c for c in frame.columns if frame[c].dtype.kind in "if"}

    def fmt(c, v):
        return v.rjust(widths[c]) if c in numeric else v.ljust(widths[c])

    rows = ["  ".join(fmt(c, c) for c in cells.columns)]
    rows += ["  ".join(fmt(c, v) for c, v in zip(cells.columns, row, strict=True))
             for row in cells.itertuples(index=False)]
    return "\n".join(r.rstrip() for r in rows)
