"""Choosing the new-user prior's shrinkage, and the rating head's, on validation only.

Everything here runs inside the protocol's TRAIN split: the new-user test of
``evaluate_new_users`` is applied to a data set whose interactions are that
train split, so its held-out users, their 3 profile ratings and their
"test" ratings (the last 20% of their train ratings) all come from train.
The pipeline is trained once per seed (the systems' bundle cache) and served
with each prior shrinkage ``k`` in ``w = n / (n + k)``; popularity is the
reference on the same users. The rating head's own validation search (inside
training, on the trainer's validation split) is printed from the bundle.

    nice -n 5 python bench/new_user_prior_validation.py [--data SPEC] [--seeds 0 1 2]

Writes bench/results/new_user_prior_validation_seeds<S...>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from common import REAL, RESULTS  # bench/common.py: the project on sys.path

from recengine.config import TrainConfig
from recengine.data import load_source
from recengine.engine import EngineConfig
from recengine.evaluation.systems import (
    _CACHE,
    NewUserConfig,
    evaluate_new_users,
    pipeline_new_user,
    popularity_new_user,
)
from recengine.new_user_prior import NewUserPriorConfig
from recengine.split import temporal_split

SHRINKS = (0.0, 1.0, 3.0, 10.0, 30.0, 100.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=f"movielens-latest:{REAL.resolve()}"
                        if (REAL / "ratings.csv").is_file() else "synthetic")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--shrinks", type=float, nargs="+", default=list(SHRINKS))
    args = parser.parse_args()
    data = load_source(args.data)
    train = temporal_split(data.interactions).train
    inner = data.with_interactions(train)  # validation lives inside train
    out: dict = {"data": args.data, "load": os.getloadavg(), "seeds": {}}
    for seed in args.seeds:
        start = time.perf_counter()
        cfg = TrainConfig(seed=seed)
        fits = {f"pipeline k={k:g}": pipeline_new_user(
                    cfg, EngineConfig(new_user_prior=NewUserPriorConfig(shrink=k)))
                for k in args.shrinks}
        fits["popularity"] = popularity_new_user()
        result = evaluate_new_users(inner, fits, NewUserConfig(seed=seed))
        bundle = next(iter(_CACHE.values()), None)
        result["rating_head"] = bundle.metadata.get("rating_head") if bundle else None
        result["seconds"] = round(time.perf_counter() - start, 1)
        out["seeds"][seed] = result
        pop = result["popularity"]
        print(f"seed {seed}: {result['users']} validation users, "
              f"popularity R@10 {pop['recall@10']:.4f} N@10 {pop['ndcg@10']:.4f}")
        for name in fits:
            if name == "popularity":
                continue
            m = result[name]
            r, n = m["recall@10"], m["ndcg@10"]
            print(f"  {name:16s} R@10 {r:.4f} ({r / pop['recall@10']:.3f}x)"
                  f"  N@10 {n:.4f} ({n / pop['ndcg@10']:.3f}x)")
        head = result["rating_head"] or {}
        search = head.get("validation_rmse_scaled", {})
        if search:
            best = min(search, key=search.get)
            print(f"  rating head: chose {best} (validation RMSE, scaled units "
                  f"{search[best]:.4f}; worst {max(search.values()):.4f})")
    out["load_after"] = os.getloadavg()
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"new_user_prior_validation_seeds{'-'.join(map(str, args.seeds))}.json"
    path.write_text(json.dumps(out, indent=1, default=float))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
