"""``python -m recengine train``: fit the two-tower model and write a bundle."""

from __future__ import annotations

import json
import sys

NAME = "train"
HELP = "train the two-tower model on a data source and save a model bundle"


def configure(p) -> None:
    p.add_argument("--data", default="synthetic",
                   help="synthetic[:users=..,items=..,seed=..] | movielens-latest:PATH | "
                        "movielens-100k:PATH | csv:PATH | download:ml-latest-small")
    p.add_argument("--out", required=True, help="bundle directory to write")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--content-only", action="store_true",
                   help="pure content model: no ID embeddings, no history bag (cold start)")
    p.add_argument("--objective", choices=["multitask", "rating", "binary", "retrieval"])
    p.add_argument("--all-data", action="store_true",
                   help="fit on every interaction instead of the protocol's train split")
    p.add_argument("--json", action="store_true", help="print one JSON object, no progress")


def config_from_args(args):
    from ..config import ModelConfig, TrainConfig

    cfg = TrainConfig()
    if args.epochs is not None:
        cfg.epochs = args.epochs
    if args.batch_size is not None:
        cfg.batch_size = args.batch_size
    if args.seed is not None:
        cfg.seed = args.seed
    model = ModelConfig(objective=args.objective or cfg.model.objective)
    if args.content_only:
        model.use_item_ids = model.use_history = False
    cfg.model = model
    return cfg


def _terminal_progress(event: dict) -> None:
    width = 30
    done = int(width * event["step"] / max(event["steps"], 1))
    line = (f"\repoch {event['epoch']}/{event['epochs']} [{'#' * done}{'.' * (width - done)}] "
            f"loss {event['loss']:.4f}")
    if event.get("epoch_end") and "val_loss" in event:
        line += f"  val_loss {event['val_loss']:.4f}\n"
    sys.stderr.write(line)
    sys.stderr.flush()


def run(args) -> int:
    from ..bundle import save_bundle
    from ..data import load_source
    from ..fit import train_two_tower
    from ..serving import TRAINED_ON
    from ..split import temporal_split

    data = load_source(args.data)
    train = data.interactions if args.all_data else temporal_split(data.interactions).train
    cfg = config_from_args(args)
    bundle = train_two_tower(data, train, cfg,
                             progress=None if args.json else _terminal_progress)
    bundle.metadata["trained_on"] = "all interactions" if args.all_data else TRAINED_ON
    bundle.metadata["train_interactions"] = int(len(train))
    path = save_bundle(bundle, args.out)
    summary = {"bundle": str(path), "data": data.source, "fingerprint": data.fingerprint,
               "train_interactions": int(len(train)), "epochs_run": bundle.metadata["epochs_run"],
               "train_seconds": round(bundle.metadata["train_seconds"], 2),
               "metrics": bundle.metadata["metrics"], "data_notes": list(data.notes)}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        for note in data.notes:  # what the loader noticed and accepted, said aloud
            print(f"note: {note}")
        print(f"saved {path} ({summary['epochs_run']} epochs, "
              f"{summary['train_seconds']} s; data {data.name}, "
              f"{summary['train_interactions']} train interactions)")
    return 0
