"""``python -m recengine similar --model DIR --item ID``: the nearest items."""

from __future__ import annotations

import argparse

from .recommend import format_table

NAME = "similar"
HELP = "List the items closest to one item in the model's embedding (squared distance)."


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="a saved model bundle directory")
    parser.add_argument("--item", required=True, type=int, help="the item's id in the data")
    parser.add_argument("--n", type=int, default=10, help="how many items (default 10)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")


def run(args: argparse.Namespace) -> int:
    from ..serving import load_serving_engine

    if args.n < 1:
        raise ValueError(f"--n must be at least 1, got {args.n}")
    engine = load_serving_engine(args.model)
    frame = engine.similar_items(args.item, n=args.n)
    if args.json:
        print(frame.to_json(orient="records", indent=2))
        return 0
    j = int(engine.data.item_index(args.item)[0])
    print(f"Items closest to {engine.index.catalogue.titles[j]} (id {args.item}), "
          f"table: {engine.similar_table.method}")
    frame = frame.assign(distance=frame["distance"].round(4))
    print(format_table(frame))
    return 0
