"""``python -m recengine explain --model DIR --user U --item I``: what of mine put this here?

Prints the counterfactual (the fewest of the user's rated items whose removal
takes the item out of their list, confirmed by a fresh rerun of the served
pipeline), then the cheaper view beside it: each ranking feature's exact part
of the score and the retrieval sources that found the item.
"""

from __future__ import annotations

import argparse
import json

NAME = "explain"
HELP = ("Explain why an item is in a user's list: the fewest of their rated items whose "
        "removal takes it out (verified by rerunning the pipeline), and its score breakdown.")
#: how many ranking features the plain-text breakdown lists
TOP_FEATURES = 5


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="a saved model bundle directory")
    parser.add_argument("--user", required=True, type=int, help="the user's id in the data")
    parser.add_argument("--item", required=True, type=int,
                        help="the id of an item in that user's top K")
    parser.add_argument("--k", type=int, default=10, help="the list length (default 10)")
    parser.add_argument("--max-size", type=int, default=3,
                        help="the most rated items removed together (default 3)")
    parser.add_argument("--json", action="store_true",
                        help="print the explanation (and the breakdown) as JSON")


def run(args: argparse.Namespace) -> int:
    from ..counterfactual import CounterfactualConfig, explain_item, score_breakdown
    from ..serving import load_serving_engine

    config = CounterfactualConfig(k=args.k, max_size=args.max_size)  # ValueError if < 1
    engine = load_serving_engine(args.model)
    engine.data.user_index(args.user)  # KeyError names an unknown user before any work
    cf = explain_item(engine, args.user, args.item, config)
    result = engine.recommend(args.user, k=args.k)
    item = next(it for it in result.items if it.item_id == args.item)
    breakdown = score_breakdown(item, result.intercept, engine.reranker)
    if args.json:
        print(json.dumps({**cf.to_dict(), "score_breakdown": breakdown.to_dict()}, indent=2,
                         default=str))
        return 0
    print(format_explanation(cf, breakdown))
    return 0


def format_explanation(cf, breakdown, top: int = TOP_FEATURES) -> str:
    """The counterfactual sentence, the removed items, the main score parts and the sources."""
    lines = [f"Why {cf.title} [id {cf.item_id}] is #{cf.rank} in the top {cf.k} for user "
             f"{cf.user_id}", "", cf.message]
    if cf.removed:
        state = ("confirmed by a fresh rerun of the pipeline" if cf.verified
                 else "NOT confirmed by a fresh rerun")
        lines.append(f"\nRemoved from the history ({state}"
                     f"{'; no smaller subset works' if cf.minimal else ''}):")
        lines += [f"  - {title} [id {item_id}]" for item_id, title in cf.removed]
        if cf.replacement is not None:
            lines.append(f"In its place: {cf.replacement[1]} [id {cf.replacement[0]}]")
    lines.append(f"({cf.tried} pipeline reruns, {cf.seconds * 1000:.0f} ms)")
    if breakdown.parts:
        lines.append(f"\nScore {breakdown.score:.3f} = baseline {breakdown.intercept:.3f} + "
                     f"the parts of {len(breakdown.parts)} ranking features; the largest:")
        lines += [f"  {p.contribution:+.3f}  {p.words}" for p in breakdown.parts[:top]]
    elif breakdown.note:
        lines.append(f"\n{breakdown.note}")
    lines.append("\nFound by:")
    lines += [f"  - {s.words}" + (f" ({s.evidence})" if s.evidence else "")
              for s in breakdown.sources] or ["  (no source recorded)"]
    return "\n".join(lines)
