"""Retrieval breadth against quality and latency (the seeds' offline experiment).

Trains the default two-tower model once on the protocol's train split, then
sweeps retrieval settings (similar items per watched item, genres, region or
overall top list) with that one model and its learned ranking stage, and
reports per setting candidate recall (share of relevant test items retrieval
found), Recall@10, NDCG@10, Coverage@10 and one user's recommend latency
(retrieval + ranking stage + ranking) p50/p95 in ms. A last
row ranks the whole catalogue, for reference.

    python bench/retrieval_tradeoff.py [--data movielens-latest:PATH] [--epochs N]

Writes bench/results/retrieval_tradeoff.csv and .json (the app's Pipeline page
plots the CSV through recengine.evaluation.tradeoff.load_tradeoff_table).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import time
from pathlib import Path

from common import REAL, RESULTS  # bench/common.py: the project on sys.path

from recengine.config import TrainConfig
from recengine.data import load_source
from recengine.evaluation.tradeoff import sweep_retrieval
from recengine.fit import train_two_tower
from recengine.split import temporal_split


def default_source() -> str:
    return f"movielens-latest:{REAL.resolve()}" if (REAL / "ratings.csv").is_file() \
        else "synthetic"


def machine() -> str:
    return f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), CPU only"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=default_source())
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--out", default=str(RESULTS / "retrieval_tradeoff"))
    args = parser.parse_args()

    data = load_source(args.data)
    split = temporal_split(data.interactions)
    cfg = TrainConfig()
    if args.epochs is not None:
        cfg.epochs = args.epochs
    t = time.perf_counter()
    bundle = train_two_tower(data, split.train.reset_index(drop=True), cfg)
    train_s = time.perf_counter() - t
    print(f"data {data.name}: trained in {train_s:.1f} s "
          f"({bundle.metadata['epochs_run']} epochs)", flush=True)
    t = time.perf_counter()
    table = sweep_retrieval(data, bundle, split)
    sweep_s = time.perf_counter() - t
    with_regions = data.has_regions
    note = ("region source used" if with_regions else
            "the data has no user location: the region source is skipped, so the overall "
            "top-N source (the seeds' 'top 20 overall') is swept in its place")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out.with_suffix(".csv"), index=False)
    meta = {"data": data.source, "date": dt.date.today().isoformat(), "machine": machine(),
            "train_seconds": round(train_s, 1), "epochs_run": bundle.metadata["epochs_run"],
            "sweep_seconds": round(sweep_s, 1), "note": note,
            "rows": json.loads(table.to_json(orient="records"))}
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    cols = ["setting", "candidates_mean", "candidate_recall", "recall@10", "ndcg@10",
            "coverage@10", "latency_p50_ms", "latency_p95_ms"]
    with_pd_opts = table[cols].to_string(index=False, float_format=lambda x: f"{x:.4f}")
    print(with_pd_opts)
    print(f"\n{note}\nwrote {out.with_suffix('.csv')} and .json ({sweep_s:.1f} s sweep)")


if __name__ == "__main__":
    main()
