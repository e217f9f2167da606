"""Choosing cold-item dropout on validation only: cold items drawn from inside train.

``evaluate_cold_items`` is applied to a data set whose interactions are the
protocol's TRAIN split, so the validation cold items, the ratings they lose and
the ratings that judge them all come from train; the protocol's test ratings
are never read. Each model (pure content, hybrid) is trained with each
``cold_item_dropout`` rate (the share of training rows shown as a cold item
would be: no ID row, no train statistics).

    nice -n 5 python bench/cold_dropout_validation.py [--data SPEC] [--seeds 0] [--rates 0 0.2]

Writes bench/results/cold_dropout_validation_seeds<S...>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace

from common import REAL, RESULTS  # bench/common.py: the project on sys.path

from recengine.config import TrainConfig
from recengine.data import load_source
from recengine.evaluation import evaluate_cold_items
from recengine.evaluation.systems import (
    content_cold_scorer,
    content_config,
    hybrid_config,
)
from recengine.split import temporal_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=f"movielens-latest:{REAL.resolve()}"
                        if (REAL / "ratings.csv").is_file() else "synthetic")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[0.0, 0.2, 0.5])
    args = parser.parse_args()
    data = load_source(args.data)
    inner = data.with_interactions(temporal_split(data.interactions).train)
    out: dict = {"data": args.data, "load": os.getloadavg(), "runs": []}
    for seed in args.seeds:
        for kind, make in (("content", content_config), ("hybrid", hybrid_config)):
            for rate in args.rates:
                base = make(TrainConfig(seed=seed))
                cfg = replace(base, model=replace(base.model, cold_item_dropout=rate))
                start = time.perf_counter()
                m = evaluate_cold_items(inner, content_cold_scorer(cfg), seed=seed)
                row = {"seed": seed, "model": kind, "cold_item_dropout": rate,
                       "recall@10": m["recall@10"], "ratio": m["ratio"], "auc": m["auc"],
                       "seconds": round(time.perf_counter() - start, 1)}
                out["runs"].append(row)
                print(f"seed {seed} {kind:8s} dropout {rate:.2f}: AUC {m['auc']:.4f}  "
                      f"Recall@10 {m['recall@10']:.4f} ({m['ratio']:.2f}x random)", flush=True)
    out["load_after"] = os.getloadavg()
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"cold_dropout_validation_seeds{'-'.join(map(str, args.seeds))}.json"
    path.write_text(json.dumps(out, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
