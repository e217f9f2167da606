"""How broad should retrieval be? Quality against latency, one trained model reused.

The seeds' offline experiment: widen or narrow each retrieval source and watch
three figures move together: *candidate recall* (the share of a user's relevant
test items that retrieval found at all: ranking can never recover what
retrieval missed), the final Recall@10 / NDCG@10 after ranking, and the time one
user's call takes. Each setting is a :class:`~recengine.retrieval.RetrievalConfig`
on the same model, the same learned ranking stage (when the bundle has one) and
the same train-only history, so only retrieval differs between rows.

Data without user locations (ml-latest-small) skips the region source, so a
region sweep is moot there; the pipeline's "overall" source (the top N overall,
the seeds' stand-in for a location) is swept in its place.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..engine import Engine, EngineConfig
from ..retrieval import RetrievalConfig, RetrievalContext, retrieve
from ..schema import Dataset
from ..similarity import SimilarityConfig, build_similar_table
from ..split import Split
from .metrics import topk_from_scores
from .protocol import evaluate_topk_lists, relevant_by_user

#: where bench/retrieval_tradeoff.py writes its table (read back by the app)
DEFAULT_TABLE = Path(__file__).resolve().parents[2] / "bench" / "results" / \
    "retrieval_tradeoff.csv"

DEFAULTS = RetrievalConfig()


@dataclass
class TradeoffSetting:
    """One row of the sweep: overrides of the default :class:`RetrievalConfig`."""

    name: str
    retrieval: dict = field(default_factory=dict)

    def config(self) -> RetrievalConfig:
        return RetrievalConfig(**self.retrieval)


def _around(knob: str, values, default) -> list[TradeoffSetting]:
    return [TradeoffSetting(f"{knob}={v}", {knob: v}) for v in values if v != default]


def default_settings(has_regions: bool) -> list[TradeoffSetting]:
    """One knob at a time around the defaults, then a few combined settings.

    With regions: region top 10/20/50. Without (ml-latest-small): the overall
    top list at 10/20/50 and without it.
    """
    d = DEFAULTS
    rows = [TradeoffSetting("default")]
    rows += _around("similar_per_item", (5, 10, 20, 50), d.similar_per_item)
    rows += _around("n_genres", (1, 3, 5), d.n_genres)
    place = "region_top" if has_regions else "overall_top"
    rows += _around(place, (10, 20, 50), getattr(d, place))
    if not has_regions and "overall" in d.sources:
        rows.append(TradeoffSetting("no overall list",
                                    {"sources": tuple(x for x in d.sources if x != "overall")}))
    rows += [
        TradeoffSetting("narrow (5 similar, 1 genre, top 10)",
                        {"similar_per_item": 5, "n_genres": 1, place: 10}),
        TradeoffSetting("wide (50 similar, 5 genres, top 50)",
                        {"similar_per_item": 50, "n_genres": 5, place: 50}),
        TradeoffSetting("widest (50 similar x 20 watched, 5 genres x 20, top 50)",
                        {"similar_per_item": 50, "last_watched": 20, "n_genres": 5,
                         "genre_top": 20, place: 50}),
    ]
    return rows


# ----- the sweep ---------------------------------------------------------------------------


def _context(engine: Engine, u: int) -> RetrievalContext:
    """A known user's request as the engine builds it (watched, genres, region)."""
    index, cfg = engine.index, engine.config.retrieval
    watched = index.watched(u)
    genres = [int(g) for g in index.user_top_genres[u] if g >= 0]
    if not len(watched):
        genres = index.genres_by_popularity[:cfg.n_genres].tolist()
    code = int(index.user_region[u])
    region = index.region_names[code] if code >= 0 else None
    return RetrievalContext(index, watched, genres, region, watched)


def _percentiles(ms: list[float]) -> tuple[float, float]:
    arr = np.asarray(ms, dtype=np.float64)
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 95))


def _one_setting(engine: Engine, users: np.ndarray, relevant: dict, split: Split,
                 n_items: int, k: int) -> dict:
    lists, found_share, n_candidates, ms = [], [], [], []
    for u in users.tolist():
        t = time.perf_counter()
        top = engine.recommend_topk_batch(np.array([u]), k)[0]  # what users get
        ms.append(1000 * (time.perf_counter() - t))
        lists.append(top)
        found = retrieve(_context(engine, u))
        n_candidates.append(len(found.items))
        if u in relevant:
            found_share.append(np.isin(relevant[u], found.items).mean())
    quality = evaluate_topk_lists((users, lists), split.test, n_items, k)
    p50, p95 = _percentiles(ms)
    return {"candidate_recall": float(np.mean(found_share)),
            "candidates_mean": float(np.mean(n_candidates)),
            f"recall@{k}": quality[f"recall@{k}"], f"ndcg@{k}": quality[f"ndcg@{k}"],
            f"coverage@{k}": quality[f"coverage@{k}"],
            "latency_p50_ms": p50, "latency_p95_ms": p95}


def _full_catalogue(bundle, users: np.ndarray, split: Split, n_items: int, k: int) -> dict:
    """The reference row: rank every unseen item (no retrieval at all)."""
    seen = {int(u): g.to_numpy() for u, g in split.train.groupby("u")["i"]}
    lists, ms = [], []
    for u in users.tolist():
        t = time.perf_counter()
        scores = bundle.item_vectors @ np.asarray(bundle.user_vector(u), dtype=np.float32)
        top = topk_from_scores(scores[None, :], [seen.get(u, [])], k)[0]
        ms.append(1000 * (time.perf_counter() - t))
        lists.append(top[top >= 0])
    quality = evaluate_topk_lists((users, lists), split.test, n_items, k)
    p50, p95 = _percentiles(ms)
    return {"candidate_recall": 1.0, "candidates_mean": float(n_items),
            f"recall@{k}": quality[f"recall@{k}"], f"ndcg@{k}": quality[f"ndcg@{k}"],
            f"coverage@{k}": quality[f"coverage@{k}"],
            "latency_p50_ms": p50, "latency_p95_ms": p95}


def sweep_retrieval(data: Dataset, bundle, split: Split,
                    settings: list[TradeoffSetting] | None = None, k: int = 10,
                    full_catalogue: bool = True) -> pd.DataFrame:
    """One row per setting: candidate recall, Recall/NDCG/Coverage@k, latency p50/p95 (ms).

    ``bundle`` must be trained on ``split.train`` (its user vectors read train
    only); retrieval reads ``split.train`` too. One similar table, as wide as the
    widest setting needs, is built once and shared. Latency is one user's
    ``recommend_topk_batch`` call (retrieval, the learned ranking stage when the
    bundle has one, ranking) in this process, every user timed once.
    ``full_catalogue`` adds a reference row that ranks every unseen item by
    ``v_u · v_m``.
    """
    settings = settings if settings is not None else default_settings(data.has_regions)
    widest = max([DEFAULTS.similar_per_item] +
                 [s.retrieval.get("similar_per_item", 0) for s in settings])
    table = build_similar_table(bundle.item_vectors, SimilarityConfig(n_neighbours=widest))
    users = np.union1d(split.train["u"].to_numpy(), split.test["u"].to_numpy()).astype(np.int64)
    relevant = relevant_by_user(split.test)
    rows = []
    for s in settings:
        cfg = s.config()
        engine = Engine.build(data, bundle, history=split.train, similar_table=table,
                              config=EngineConfig(retrieval=cfg))
        row = {"setting": s.name, "similar_per_item": cfg.similar_per_item,
               "last_watched": cfg.last_watched, "genre_top": cfg.genre_top,
               "n_genres": cfg.n_genres, "region_top": cfg.region_top,
               "overall_top": cfg.overall_top,
               "sources": "+".join(cfg.sources),
               "region_used": bool(data.has_regions and "region" in cfg.sources),
               "ranking_stage": engine.reranker is not None}
        row.update(_one_setting(engine, users, relevant, split, data.n_items, k))
        rows.append(row)
    if full_catalogue:
        rows.append({"setting": "full catalogue (no retrieval)", "sources": "all items",
                     "region_used": False,
                     **_full_catalogue(bundle, users, split, data.n_items, k)})
    return pd.DataFrame(rows)


def load_tradeoff_table(path: str | Path | None = None) -> pd.DataFrame | None:
    """The latest sweep (bench/results/retrieval_tradeoff.csv), or None when never run."""
    path = Path(path) if path is not None else DEFAULT_TABLE
    if not path.is_file():
        return None
    return pd.read_csv(path)
