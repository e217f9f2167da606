"""``python -m recengine evaluate``: the offline protocol on any data source.

Scores the product (the full pipeline and the two-tower model alone), the
seeds' collaborative filtering and the protocol's baselines on one split, then
the cold-start items and new-user tests, and prints one table. ``--json``
writes every figure so README, benches and the app quote the same run.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

NAME = "evaluate"
HELP = "run the offline evaluation protocol (pipeline, two-tower, CF, baselines, cold start)"
#: top-level result keys that are not protocol systems (left out of the main table)
EXTRA_KEYS = ("cold_items", "new_users", "data", "seconds", "config")


def configure(p) -> None:
    p.add_argument("--data", default="synthetic",
                   help="synthetic[:users=..,items=..] | movielens-latest:PATH | "
                        "movielens-100k:PATH | csv:PATH | download:ml-latest-small")
    p.add_argument("--json", metavar="FILE", help="write every figure to this JSON file")
    p.add_argument("--epochs", type=int, default=None,
                   help="two-tower epochs (default: the model's default config)")
    p.add_argument("--cf-epochs", type=int, default=None, help="CF epochs (default: CFConfig)")
    p.add_argument("--no-cf", action="store_true", help="skip collaborative filtering")
    p.add_argument("--no-cold", action="store_true",
                   help="skip the cold-start items and new-user tests")
    p.add_argument("--quick", action="store_true",
                   help="few epochs everywhere: a smoke test, not figures to quote")
    p.add_argument("--seed", type=int, default=0)


def configs_from_args(args):
    """The two-tower and CF configs this run uses (defaults, then flags)."""
    from ..cf import CFConfig
    from ..config import TrainConfig

    tt, cf = TrainConfig(seed=args.seed), CFConfig(seed=args.seed)
    if args.quick:
        tt.epochs, cf.epochs = 2, 10
    if args.epochs is not None:
        tt.epochs = args.epochs
    if args.cf_epochs is not None:
        cf.epochs = args.cf_epochs
    return tt, cf


def evaluate(data, tt_config, cf_config=None, cold: bool = True, seed: int = 0,
             log=lambda msg: None) -> dict:
    """Every figure of one evaluation run, JSON-ready (see the module docstring)."""
    from ..evaluation import evaluate_cold_items, run_protocol
    from ..evaluation.systems import (
        cf_cold_scorer,
        cf_new_user,
        cf_system,
        clear_cache,
        content_cold_scorer,
        content_config,
        evaluate_new_users,
        hybrid_config,
        pipeline_new_user,
        pipeline_system,
        popularity_new_user,
        two_tower_new_user,
        two_tower_system,
    )

    systems = {"pipeline": pipeline_system(tt_config), "two_tower": two_tower_system(tt_config)}
    if cf_config is not None:
        systems["cf"] = cf_system(cf_config)
    start = time.perf_counter()
    log("protocol: pipeline, two_tower" + (", cf" if cf_config else "") + " and baselines")
    result = run_protocol(data, systems)
    clear_cache()
    timings = {"protocol": time.perf_counter() - start}
    if cold:
        cold_fits = {"two_tower": content_cold_scorer(content_config(tt_config)),
                     "hybrid": content_cold_scorer(hybrid_config(tt_config))}
        if cf_config is not None:
            cold_fits["cf"] = cf_cold_scorer(cf_config)
        result["cold_items"] = {}
        for name, fit in cold_fits.items():
            log(f"cold-start items: {name}")
            t = time.perf_counter()
            result["cold_items"][name] = evaluate_cold_items(data, fit, seed=seed)
            timings[f"cold_items:{name}"] = time.perf_counter() - t
        new_fits = {"two_tower": two_tower_new_user(tt_config),
                    "pipeline": pipeline_new_user(tt_config),
                    "popularity": popularity_new_user()}
        if cf_config is not None:
            new_fits["cf"] = cf_new_user(cf_config, "binary")
            new_fits["cf_rating"] = cf_new_user(cf_config, "rating")
        log("new users (first 3 ratings): " + ", ".join(new_fits))
        t = time.perf_counter()
        result["new_users"] = evaluate_new_users(data, new_fits)
        timings["new_users"] = time.perf_counter() - t
    result["data"] = {"source": data.source, "name": data.name, "items": data.n_items,
                      "users": data.n_users, "interactions": int(len(data.interactions))}
    result["seconds"] = {k: round(v, 1) for k, v in timings.items()}
    return result


def format_extras(result: dict) -> str:
    """The cold-start and new-user parts of the report as plain text."""
    lines = []
    if "cold_items" in result:
        lines += ["", "cold-start items (rank only cold items; random = expected value):"]
        for name, m in result["cold_items"].items():
            lines.append(f"  {name:<10} recall@10 {m['recall@10']:.4f} (random "
                         f"{m['random_recall@10']:.4f}, x{m['ratio']:.2f})  AUC "
                         f"{m['auc']:.4f} (random 0.5)  users {m['users']}")
    if "new_users" in result:
        nu = result["new_users"]
        lines += ["", f"new users ({nu['users']} held-out users known by their first "
                      f"{nu['n_ratings']} ratings):"]
        for name, m in nu.items():
            if isinstance(m, dict):
                lines.append(f"  {name:<10} recall@10 {m['recall@10']:.4f}  "
                             f"ndcg@10 {m['ndcg@10']:.4f}")
    return "\n".join(lines)


def json_ready(obj):
    if isinstance(obj, dict):
        return {k: json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_ready(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if hasattr(obj, "item"):  # numpy scalars
        return json_ready(obj.item())
    return obj


def run(args) -> int:
    from ..data import load_source
    from ..evaluation import format_report

    data = load_source(args.data)
    tt, cf = configs_from_args(args)
    result = evaluate(data, tt, None if args.no_cf else cf, cold=not args.no_cold,
                      seed=args.seed, log=lambda m: print(m, file=sys.stderr, flush=True))
    result["config"] = {"epochs": tt.epochs, "cf_epochs": None if args.no_cf else cf.epochs,
                        "quick": bool(args.quick), "seed": args.seed,
                        "date": dt.date.today().isoformat(),
                        "machine": f"{os.cpu_count()} CPU cores ({platform.machine()})"}
    print(f"data: {data.name} ({data.source}); {data.n_users:,} users, {data.n_items:,} items")
    print(format_report({k: v for k, v in result.items() if k not in EXTRA_KEYS}))
    print(format_extras(result))
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(json_ready(result), indent=2) + "\n")
        print(f"\nwrote {path}")
    return 0
