"""The popularity penalty's strength against coverage: measured on the inner validation split.

For each seed: the protocol's train split is split again by time (the ranking
stage's own inner split); one inner two-tower model is trained on the earlier
part, its engine retrieves candidates, labelled by the later part; EASE is
fitted on the earlier part for the reference Coverage@10 over the same users.
Each ranking stage's held-out scores (3 folds of users, as the stage's own
choice) then get every strength of recengine.popularity_penalty's grid, and
each variant's validation Recall@10, NDCG@10 and Coverage@10 are printed,
with the strength the fitting rule picks. Two what-ifs that are not in the
product ride along: the same penalty on the item bias instead, and on both.
Never the test split.

    python bench/coverage_validation.py [--data SPEC] [--seeds 0,1,2] [--cache DIR]

Writes bench/results/coverage_validation.json.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from common import REAL, RESULTS, write_json  # bench/common.py: the project on sys.path

from recengine.config import TrainConfig
from recengine.data import load_source
from recengine.engine import Engine
from recengine.popularity_penalty import choose_strength
from recengine.reranker import FEATURES
from recengine.reranker_lgbm import LgbmConfig
from recengine.reranker_training import (
    RerankerConfig,
    StageData,
    engine_stage_data,
    out_of_fold_scores,
    penalty_figures,
    ranking_metrics,
)
from recengine.split import temporal_split
from recengine.training import train_towers

FIELDS = ("x", "y", "groups", "n_relevant", "items")


def stage_data(data, seed: int, cfg: RerankerConfig, cache: Path | None) -> StageData:
    path = cache / f"coverage_stage_data_seed{seed}.npz" if cache else None
    if path is not None and path.exists():
        with np.load(path) as z:
            return StageData(*(z[k] for k in FIELDS), int(z["n_items"]),
                             float(z["reference_coverage"]))
    train = temporal_split(data.interactions).train
    inner = temporal_split(train, cfg.inner_fraction)
    t = time.perf_counter()
    bundle = train_towers(data, inner.train, TrainConfig(seed=seed, ranking_stage=False))
    print(f"seed {seed}: inner model {time.perf_counter() - t:.0f} s", flush=True)
    out = engine_stage_data(Engine.build(data, bundle, history=inner.train), inner.test, cfg)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, **{k: getattr(out, k) for k in FIELDS}, n_items=out.n_items,
                 reference_coverage=out.reference_coverage)
    return out


def other_penalty(scores: np.ndarray, data: StageData, columns: tuple[str, ...],
                  strengths) -> dict:
    """What-if: the same standardised penalty on other inputs (each column equally)."""
    out = {}
    for s in strengths:
        pen = np.zeros(len(scores))
        for c in columns:
            col = data.x[:, FEATURES.index(c)]
            pen -= s * (col - col.mean()) / max(col.std(), 1e-9)
        out[f"{s:g}"] = {**ranking_metrics(scores + pen, data),
                         "coverage@10": data.coverage(scores + pen)}
    return out


def show(label: str, figures: dict, reference: float) -> None:
    for s, f in figures.items():
        print(f"  {label:<26} {s:>5}  recall@10 {f['recall@10']:.4f}  ndcg@10 "
              f"{f['ndcg@10']:.4f}  coverage@10 {f['coverage@10']:.4f} "
              f"({f['coverage@10'] / reference:.3f}x EASE)", flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=f"movielens-latest:{REAL}" if REAL.exists()
                   else "synthetic")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--stages", default="logistic,lightgbm")
    p.add_argument("--cache", default=None, metavar="DIR",
                   help="keep each seed's learning data here (reruns skip the inner model)")
    p.add_argument("--out", default=str(RESULTS / "coverage_validation.json"))
    args = p.parse_args()
    data = load_source(args.data)
    report = {"data": args.data, "load_start": os.getloadavg(), "seeds": {}}
    cache = Path(args.cache) if args.cache else None
    for seed in [int(s) for s in args.seeds.split(",")]:
        cfg = RerankerConfig(seed=seed, lgbm=LgbmConfig(seed=seed))
        data_s = stage_data(data, seed, cfg, cache)
        ref = float(data_s.reference_coverage)
        print(f"seed {seed}: {len(data_s.groups)} users, {len(data_s.y):,} candidates; "
              f"EASE validation coverage@10 {ref:.4f}", flush=True)
        res: dict = {"users": int(len(data_s.groups)), "ease_coverage@10": ref}
        strengths = cfg.penalty.strengths
        for stage in args.stages.split(","):
            t = time.perf_counter()
            scores = out_of_fold_scores(stage, data_s, cfg)
            figs = penalty_figures(scores, data_s, strengths)
            chosen, rule = choose_strength(figs, ref, cfg.penalty)
            block = {"popularity_penalty": {f"{s:g}": f for s, f in figs.items()},
                     "chosen_strength": chosen, "rule": rule,
                     "seconds": round(time.perf_counter() - t, 1)}
            show(f"{stage}, popularity", block["popularity_penalty"], ref)
            print(f"  {stage}: the rule picks {chosen:g} ({rule})", flush=True)
            if stage == "logistic":
                for tag, cols in (("item_bias", ("item_bias",)),
                                  ("popularity+item_bias", ("log_popularity", "item_bias"))):
                    block[f"{tag}_penalty"] = other_penalty(scores, data_s, cols, strengths)
                    show(f"{stage}, {tag}", block[f"{tag}_penalty"], ref)
            res[stage] = block
        report["seeds"][seed] = res
    report["load_end"] = os.getloadavg()
    write_json(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
