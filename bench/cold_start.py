"""Cold start: items nobody rated, and users who rated only three.

Targets (../shared/TARGETS.md): Recall@10 among cold items >= 2x random and
cold-item AUC >= 0.72. The protocol (../shared/EVALUATION.md): a seeded 10% of
items loses every rating before fitting; each user ranks the cold items alone.
Systems: the pure content two-tower model, the hybrid (ID embeddings with ID
dropout: a cold item has no ID row and falls back to its features) and the
seeds' collaborative filtering (a cold item keeps x = 0: every cold item ties,
the method's stated limit).

New users (issue 7): a seeded 20% of users with a relevant test item leave
training; each is described by their first 3 train ratings (by time) and ranks
the catalogue: two-tower ``new_user_vector`` (hybrid and content), CF's
``new_user_vector`` (w, b fitted to the 3 ratings with x fixed; binary variant,
which ranks, and rating variant) and popularity.

    python bench/cold_start.py [--data SPEC] [--epochs N]

Writes bench/results/cold_start.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time

from common import REAL, RESULTS, write_json  # bench/common.py: the project on sys.path

from recengine.cf import CFConfig
from recengine.cli.evaluate import json_ready
from recengine.config import TrainConfig
from recengine.data import load_source
from recengine.evaluation import evaluate_cold_items
from recengine.evaluation.systems import (
    NewUserConfig,
    cf_cold_scorer,
    cf_new_user,
    content_cold_scorer,
    content_config,
    evaluate_new_users,
    hybrid_config,
    popularity_new_user,
    two_tower_new_user,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=f"movielens-latest:{REAL.resolve()}"
                        if (REAL / "ratings.csv").is_file() else "synthetic")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(RESULTS / "cold_start.json"))
    args = parser.parse_args()

    data = load_source(args.data)
    cfg = TrainConfig(seed=args.seed)
    if args.epochs is not None:
        cfg.epochs = args.epochs
    cf = CFConfig(seed=args.seed)
    result: dict = {"data": data.source, "date": dt.date.today().isoformat(),
                    "machine": f"{os.cpu_count()} CPU cores ({platform.machine()}), shared; "
                               "CPU only", "epochs": cfg.epochs, "cold_items": {}}
    cold = {"content": content_cold_scorer(content_config(cfg)),
            "hybrid": content_cold_scorer(hybrid_config(cfg)), "cf": cf_cold_scorer(cf)}
    for name, fit in cold.items():
        t = time.perf_counter()
        m = evaluate_cold_items(data, fit, seed=args.seed)
        m["seconds"] = round(time.perf_counter() - t, 1)
        m["meets_target"] = bool(m["ratio"] >= 2.0 and m["auc"] >= 0.72)
        result["cold_items"][name] = m
        print(f"cold items {name:<8} recall@10 {m['recall@10']:.4f} vs random "
              f"{m['random_recall@10']:.4f} (x{m['ratio']:.2f}, target >= 2)  AUC "
              f"{m['auc']:.4f} (target >= 0.72)  [{m['seconds']} s]", flush=True)
    fits = {"hybrid": two_tower_new_user(hybrid_config(cfg)),
            "content": two_tower_new_user(content_config(cfg)),
            "cf_binary": cf_new_user(cf, "binary"), "cf_rating": cf_new_user(cf, "rating"),
            "popularity": popularity_new_user()}
    t = time.perf_counter()
    nu = evaluate_new_users(data, fits, NewUserConfig(seed=args.seed))
    nu["seconds"] = round(time.perf_counter() - t, 1)
    result["new_users"] = nu
    print(f"\nnew users: {nu['users']} held-out users known by their first "
          f"{nu['n_ratings']} ratings")
    for name in fits:
        print(f"  {name:<10} recall@10 {nu[name]['recall@10']:.4f}  "
              f"ndcg@10 {nu[name]['ndcg@10']:.4f}")
    write_json(args.out, json_ready(result))


if __name__ == "__main__":
    main()
