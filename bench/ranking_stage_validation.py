"""Which ranking stage, which inputs: measured on the inner validation split, never on test.

For each seed: the protocol's train split is split again by time (the ranking
stage's own inner split); one inner two-tower model is trained on the earlier
part; its engine retrieves candidates, labelled by the later part. Every variant
below is scored by Recall@10 and NDCG@10 (EVALUATION.md's definitions,
relevant items retrieval missed included), cross-validated over 3 folds of
users as the stage's own choice is. Variants: logistic vs LightGBM
lambdarank; without the item-model inputs (zeroed); without the item-model
retrieval source (fewer candidates); a few LightGBM settings.

    python bench/ranking_stage_validation.py [--data SPEC] [--seeds 0,1,2] [--epochs N]

Writes bench/results/ranking_stage_validation.json.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from common import REAL, RESULTS, write_json  # bench/common.py: the project on sys.path

from recengine.config import TrainConfig
from recengine.data import load_source
from recengine.engine import Engine, EngineConfig
from recengine.reranker import FEATURES
from recengine.reranker_lgbm import LgbmConfig
from recengine.reranker_training import (
    RerankerConfig,
    StageData,
    cross_validate,
    engine_stage_data,
)
from recengine.retrieval import RetrievalConfig
from recengine.split import temporal_split
from recengine.training import train_towers

ITEM_MODEL_INPUTS = ("item_model_score", "log_activity")


def without(data: StageData, names) -> StageData:
    x = data.x.copy()
    x[:, [FEATURES.index(n) for n in names]] = 0.0
    return replace(data, x=x)


def load_cached(path: Path) -> tuple[StageData, StageData]:
    with np.load(path) as z:
        return tuple(StageData(*(z[f"{tag}_{k}"] for k in ("x", "y", "groups", "n_relevant")))
                     for tag in ("full", "ns"))


def same(data: StageData) -> StageData:
    return data


def strip(data: StageData) -> StageData:
    return without(data, ITEM_MODEL_INPUTS)


def lg(cfg: RerankerConfig, **kw) -> RerankerConfig:
    return replace(cfg, lgbm=replace(cfg.lgbm, **kw))


def compare(data: StageData, variants: dict) -> dict:
    """Each variant's cross-validated figures (the stage's own choice rule, every user once)."""
    out = {}
    for name, (stage, transform, stage_cfg) in variants.items():
        t = time.perf_counter()
        out[name] = {**cross_validate(stage, transform(data), stage_cfg),
                     "seconds": round(time.perf_counter() - t, 1)}
        print(f"  {name:<34} recall@10 {out[name]['recall@10']:.4f}  "
              f"ndcg@10 {out[name]['ndcg@10']:.4f}  ({out[name]['seconds']} s)", flush=True)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=f"movielens-latest:{REAL}" if REAL.exists()
                   else "synthetic")
    p.add_argument("--seeds", default="0")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--cache", default=None, metavar="DIR",
                   help="keep each seed's learning data here (reruns skip the inner model)")
    args = p.parse_args()
    data = load_source(args.data)
    report = {"data": args.data, "load": os.getloadavg(), "seeds": {}}
    for seed in [int(s) for s in args.seeds.split(",")]:
        tt = TrainConfig(seed=seed, ranking_stage=False)
        if args.epochs:
            tt.epochs = args.epochs
        cfg = RerankerConfig(seed=seed, lgbm=LgbmConfig(seed=seed))
        train = temporal_split(data.interactions).train
        inner = temporal_split(train, cfg.inner_fraction)
        cached = Path(args.cache) / f"stage_data_seed{seed}.npz" if args.cache else None
        if cached is not None and cached.exists():
            full, no_source = load_cached(cached)
        else:
            t = time.perf_counter()
            bundle = train_towers(data, inner.train, tt)
            print(f"seed {seed}: inner model {time.perf_counter() - t:.0f} s", flush=True)
            full = engine_stage_data(Engine.build(data, bundle, history=inner.train),
                                     inner.test, cfg)
            sources = tuple(s for s in RetrievalConfig().sources if s != "item_model")
            no_source = engine_stage_data(
                Engine.build(data, bundle, history=inner.train,
                             config=EngineConfig(retrieval=RetrievalConfig(sources=sources))),
                inner.test, cfg)
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                np.savez(cached, **{f"{tag}_{k}": v for tag, d in (("full", full),
                                                                   ("ns", no_source))
                                    for k, v in vars(d).items()})
        variants = {
            "logistic": ("logistic", same, cfg),
            "lightgbm": ("lightgbm", same, cfg),
            "logistic, no item-model inputs": ("logistic", strip, cfg),
            "lightgbm, no item-model inputs": ("lightgbm", strip, cfg),
            "lightgbm, 15 leaves": ("lightgbm", same, lg(cfg, num_leaves=15)),
            "lightgbm, 63 leaves": ("lightgbm", same, lg(cfg, num_leaves=63)),
            "lightgbm, 600 rounds lr 0.025": ("lightgbm", same,
                                              lg(cfg, rounds=600, learning_rate=0.025)),
        }
        print(f"seed {seed}: {len(full.groups)} users, {len(full.y):,} candidates, "
              f"{int(full.y.sum())} relevant retrieved", flush=True)
        res = compare(full, variants)
        print(f"seed {seed}: without the item-model source ({len(no_source.y):,} candidates)")
        res_ns = compare(no_source, {f"{k}, no item-model source": v
                                          for k, v in variants.items() if "," not in k})
        report["seeds"][seed] = {"candidates": int(len(full.y)),
                                 "candidates_no_item_model_source": int(len(no_source.y)),
                                 **res, **res_ns}
    write_json(RESULTS / "ranking_stage_validation.json", report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
