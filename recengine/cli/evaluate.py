"""``python -m recengine evaluate``: the offline protocol on any data source.

Scores the product (the full pipeline and the two-tower model alone), the
seeds' collaborative filtering and the protocol's baselines on one split, then
the cold-start items and new-user tests, and prints one table. ``--json``
writes every figure so README, benches and the app quote the same run.

``--seeds 0,1,2`` runs the whole protocol once per seed (the two-tower, CF,
ranking-stage and cold-item seeds; the split is the protocol's, the same every
time) and writes one JSON: ``seeds`` (each run's result with its seed) plus
``mean`` and ``std`` blocks with the same keys (recengine.evaluation.seeds).
TARGETS.md's quality targets are means over seeds 0, 1 and 2.
"""

from __future__ import annotations

import copy
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
EXTRA_KEYS = ("cold_items", "new_users", "data", "seconds", "config", "ranking_stage")


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
    p.add_argument("--seed", type=int, default=0, help="one run with this seed")
    p.add_argument("--seeds", default=None, metavar="LIST",
                   help="comma-separated seeds, e.g. 0,1,2: one run each, then the mean and "
                        "std over them (overrides --seed)")


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
        cached_ranking_stage,
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
    from ..split import temporal_split

    systems = {"pipeline": pipeline_system(tt_config), "two_tower": two_tower_system(tt_config)}
    if cf_config is not None:
        systems["cf"] = cf_system(cf_config)
    start = time.perf_counter()
    log("protocol: pipeline, two_tower" + (", cf" if cf_config else "") + " and baselines")
    result = run_protocol(data, systems)
    train = data.with_interactions(temporal_split(data.interactions).train)
    stage = cached_ranking_stage(tt_config, train.interactions, train)
    if stage is not None:  # which stage the pipeline served, and the validation that chose it
        result["ranking_stage"] = stage
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
    """The ranking-stage choice, cold-start and new-user parts of the report as plain text."""
    lines = []
    stage = result.get("ranking_stage") or {}
    if stage.get("validation"):
        lines += ["", f"ranking stage served: {stage.get('stage', 'mean over seeds')} "
                      "(chosen on the inner validation split; cross-validated over users):"]
        lines += [f"  {name:<10} recall@10 {m['recall@10']:.4f}  ndcg@10 {m['ndcg@10']:.4f}"
                  for name, m in stage["validation"].items()]
    penalty = stage.get("popularity_penalty") or {}
    if "strength" in penalty:
        chosen = penalty.get("validation", {}).get(f"{penalty['strength']:g}", {})
        ease = penalty.get("ease_validation_coverage@10")
        line = f"  popularity penalty strength {penalty['strength']:g}"
        if "stage" not in stage:  # a mean over seeds: each seed chose its own strength
            line += " (mean of each seed's chosen strength)"
        elif chosen and ease:
            line += (f": validation coverage@10 {chosen['coverage@10']:.4f} "
                     f"({chosen['coverage@10'] / ease:.3f}x EASE's {ease:.4f}), "
                     f"ndcg@10 {chosen['ndcg@10']:.4f}")
        lines.append(line)
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


def run_config(args, tt, cf) -> dict:
    """The run's settings as the JSON records them."""
    return {"epochs": tt.epochs, "cf_epochs": None if args.no_cf else cf.epochs,
            "quick": bool(args.quick), "seed": tt.seed, "date": dt.date.today().isoformat(),
            "machine": f"{os.cpu_count()} CPU cores ({platform.machine()})",
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def run_seed(data, args, seed: int, log) -> dict:
    """One seed's whole evaluation, as a single ``--seed`` run would give it."""
    args = copy.copy(args)
    args.seed = seed
    tt, cf = configs_from_args(args)
    result = evaluate(data, tt, None if args.no_cf else cf, cold=not args.no_cold,
                      seed=seed, log=log)
    result["config"] = run_config(args, tt, cf)
    return result


def format_seed_summary(mean: dict, std: dict, seeds: list[int]) -> str:
    """The mean +- std table over seeds, ratios to EASE included."""
    from ..evaluation.protocol import RESERVED_NAMES

    k = mean.get("k", 10)
    cols = [f"recall@{k}", f"ndcg@{k}", f"coverage@{k}", f"recall@{k}_vs_ease",
            f"ndcg@{k}_vs_ease", f"coverage@{k}_vs_ease", "rmse"]
    heads = [c.replace(f"@{k}_vs_ease", "/EASE") for c in cols]
    systems = {n: m for n, m in mean.items()
               if n not in RESERVED_NAMES and n not in EXTRA_KEYS and isinstance(m, dict)}
    width = max([len("system")] + [len(n) for n in systems])
    lines = [f"mean +- std over seeds {', '.join(map(str, seeds))} (std: sample, ddof=1)",
             "  ".join([f"{'system':<{width}}"] + [f"{h:>16}" for h in heads])]
    for name, m in systems.items():
        sd = std.get(name, {})
        cells = [(f"{m[c]:.4f}" + (f"+-{sd[c]:.4f}" if c in sd else "")).rjust(16)
                 if c in m else f"{'-':>16}" for c in cols]
        lines.append("  ".join([f"{name:<{width}}"] + cells))
    return "\n".join(lines)


def run(args) -> int:
    from ..data import load_source
    from ..evaluation import format_report
    from ..evaluation.seeds import parse_seeds, seed_summary

    try:
        seeds = parse_seeds(args.seeds) if args.seeds is not None else None
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    data = load_source(args.data)
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    print(f"data: {data.name} ({data.source}); {data.n_users:,} users, {data.n_items:,} items")
    if seeds is None:
        result = run_seed(data, args, args.seed, log)
        print(format_report({k: v for k, v in result.items() if k not in EXTRA_KEYS}))
        print(format_extras(result))
    else:
        runs = []
        for seed in seeds:
            log(f"seed {seed}")
            one = {"seed": seed, **run_seed(data, args, seed, log)}
            runs.append(one)
            print(f"\nseed {seed}:")
            print(format_report({k: v for k, v in one.items()
                                 if k not in EXTRA_KEYS and k != "seed"}))
            print(format_extras(one))
        mean, std = seed_summary(runs)
        result = {"seeds": runs, "mean": mean, "std": std,
                  "config": {**runs[-1]["config"], "seed": None, "seeds": seeds}}
        print()
        print(format_seed_summary(mean, std, seeds))
        print(format_extras(mean))
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(json_ready(result), indent=2) + "\n")
        print(f"\nwrote {path}")
    return 0
