"""One run of the offline protocol: split, fit on train, evaluate every system.

Systems are handed in as *fit* callables, never as fitted models: the protocol
splits the data itself and passes a Dataset that holds train ratings only, so
a system cannot see a test rating even by accident (leak-free by construction).
The baselines are fitted in the same run on the same split, and every ranking
system is also reported as a ratio to EASE (../shared/EVALUATION.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..schema import Dataset
from ..split import Split, temporal_split
from .baselines import fit_bias, fit_ease, fit_itemknn, fit_popularity
from .metrics import (
    coverage_at_k,
    hit_matrix,
    mae,
    mean_over_users,
    ndcg_from_hits,
    recall_from_hits,
    rmse,
    topk_from_scores,
)

ScoreFn = Callable[[np.ndarray], np.ndarray]
TopKFn = Callable[[np.ndarray, int], Sequence[Sequence[int]]]
PredictFn = Callable[[np.ndarray, np.ndarray], np.ndarray]

RELEVANT_THRESHOLD = 4.0
#: top-level keys of a run_protocol result that are not system names
RESERVED_NAMES = ("split", "k")


@dataclass
class System:
    """A fitted system as the protocol sees it: any of three ways to be evaluated.

    * ``score_fn(user_idx) -> (len, n_items)`` scores the whole catalogue;
    * ``topk_fn(user_idx, k) -> one list of item indices per user`` (a
      retrieval + ranking pipeline that never scores the whole catalogue);
    * ``predict_fn(u, i) -> ratings`` in rating units.

    A system that has ``score_fn`` is ranked through it; ``topk_fn`` is used
    only when there is no ``score_fn``.
    """

    name: str
    score_fn: ScoreFn | None = None
    topk_fn: TopKFn | None = None
    predict_fn: PredictFn | None = None

    @property
    def ranks(self) -> bool:
        return self.score_fn is not None or self.topk_fn is not None


#: How a system is fitted: ``fit(train_interactions, train_data) -> System``, where
#: ``train_data`` is the full catalogue and users with train interactions only.
SystemFit = Callable[[pd.DataFrame, Dataset], System]


# ----- evaluators ------------------------------------------------------------------------


def relevant_by_user(test: pd.DataFrame,
                     threshold: float = RELEVANT_THRESHOLD) -> dict[int, np.ndarray]:
    """User -> item indices rated ``>= threshold`` in test (users with none are absent)."""
    liked = test[test["rating"] >= threshold]
    return {int(u): np.sort(g.to_numpy(dtype=np.int64))
            for u, g in liked.groupby("u", sort=True)["i"]}


def _interaction_matrix(frame: pd.DataFrame, n_users: int, n_items: int) -> sp.csr_matrix:
    u = frame["u"].to_numpy(dtype=np.int64)
    i = frame["i"].to_numpy(dtype=np.int64)
    m = sp.csr_matrix((np.ones(len(u), dtype=np.float32), (u, i)), shape=(n_users, n_items))
    m.sum_duplicates()
    return m


def _topk_result(hits: np.ndarray, n_relevant: np.ndarray, coverage: float, k: int) -> dict:
    return {
        f"recall@{k}": mean_over_users(recall_from_hits(hits, n_relevant, k)),
        f"ndcg@{k}": mean_over_users(ndcg_from_hits(hits, n_relevant, k)),
        f"coverage@{k}": coverage,
        "users": int(len(n_relevant)),
    }


def evaluate_topk(score_fn: ScoreFn, train: pd.DataFrame, test: pd.DataFrame, n_items: int,
                  k: int = 10, batch_size: int = 256,
                  threshold: float = RELEVANT_THRESHOLD) -> dict:
    """Recall, NDCG and coverage at k of a full-catalogue scorer.

    Candidates are the items a user has not rated in train; relevant items are
    their test ratings ``>= threshold``. Recall and NDCG average over users with
    at least one relevant item; coverage counts the top-k lists of every user
    present in train or test (the reference figures are computed that way).
    Users are scored ``batch_size`` at a time, so memory stays at
    ``batch_size x n_items`` floats.
    """
    users = np.union1d(train["u"].to_numpy(), test["u"].to_numpy()).astype(np.int64)
    n_users = int(users.max()) + 1 if len(users) else 0
    seen = _interaction_matrix(train, n_users, n_items)
    relevant = relevant_by_user(test, threshold)
    hits_rows, n_rel, shown = [], [], np.zeros(n_items, dtype=bool)
    for start in range(0, len(users), batch_size):
        batch = users[start:start + batch_size]
        scores = np.asarray(score_fn(batch))
        if scores.shape != (len(batch), n_items):
            raise ValueError(f"score_fn returned shape {scores.shape}, expected "
                             f"{(len(batch), n_items)}")
        top = topk_from_scores(scores, seen[batch], k)
        shown[top[top >= 0]] = True
        keep = [row for row, u in enumerate(batch) if int(u) in relevant]
        rel = [relevant[int(batch[row])] for row in keep]
        hits_rows.append(hit_matrix(top[keep], rel, k))
        n_rel.extend(len(r) for r in rel)
    hits = np.vstack(hits_rows) if hits_rows else np.zeros((0, k), dtype=bool)
    return _topk_result(hits, np.asarray(n_rel, dtype=np.int64), float(shown.sum()) / n_items, k)


def evaluate_topk_lists(topk: Mapping[int, Sequence[int]] | tuple[Sequence[int], Sequence],
                        test: pd.DataFrame, n_items: int, k: int = 10,
                        threshold: float = RELEVANT_THRESHOLD) -> dict:
    """The same figures for a system that produces lists (e.g. retrieval + ranking).

    ``topk`` maps user index -> list, or is a pair ``(users, lists)``. A user
    with relevant items but no list counts as zero hits. Coverage counts every
    list given, so give one per user as :func:`evaluate_topk` does. The caller
    is responsible for leaving the user's train items out of the lists (a
    train item wastes a slot: it is never a test hit).
    """
    if isinstance(topk, Mapping):
        lists = {int(u): list(v) for u, v in topk.items()}
    else:
        users, seqs = topk
        if len(users) != len(seqs):
            raise ValueError(f"{len(users)} users but {len(seqs)} lists")
        lists = {int(u): list(v) for u, v in zip(users, seqs, strict=True)}
    relevant = relevant_by_user(test, threshold)
    evaluated = sorted(relevant)
    hits = hit_matrix([lists.get(u, []) for u in evaluated],
                      [relevant[u] for u in evaluated], k)
    n_rel = np.array([len(relevant[u]) for u in evaluated], dtype=np.int64)
    coverage = coverage_at_k(list(lists.values()), n_items, k)
    return _topk_result(hits, n_rel, coverage, k)


def evaluate_ratings(predict_fn: PredictFn, test: pd.DataFrame,
                     rating_scale: tuple[float, float]) -> dict:
    """RMSE and MAE over all test ratings, predictions clipped to the scale."""
    pred = np.asarray(predict_fn(test["u"].to_numpy(dtype=np.int64),
                                 test["i"].to_numpy(dtype=np.int64)), dtype=np.float64)
    true = test["rating"].to_numpy(dtype=np.float64)
    return {"rmse": rmse(pred, true, rating_scale), "mae": mae(pred, true, rating_scale)}


# ----- the run ---------------------------------------------------------------------------


def baseline_fits() -> dict[str, SystemFit]:
    """The protocol's four baselines as fit callables, under their report names."""

    def pop(train: pd.DataFrame, data: Dataset) -> System:
        return System("popularity", score_fn=fit_popularity(train, data.n_items, data.n_users))

    def knn(train: pd.DataFrame, data: Dataset) -> System:
        return System("itemknn", score_fn=fit_itemknn(train, data.n_items, data.n_users))

    def ease(train: pd.DataFrame, data: Dataset) -> System:
        return System("ease", score_fn=fit_ease(train, data.n_items, data.n_users))

    def bias(train: pd.DataFrame, data: Dataset) -> System:
        return System("bias", predict_fn=fit_bias(train, data.n_items, data.n_users).predict)

    return {"popularity": pop, "itemknn": knn, "ease": ease, "bias": bias}


def split_summary(split: Split, threshold: float = RELEVANT_THRESHOLD) -> dict:
    """The counts that show the split is the protocol's (reference: 80,672 / 20,164)."""
    train_items = np.unique(split.train["i"].to_numpy())
    return {
        "train": int(len(split.train)),
        "test": int(len(split.test)),
        "users_with_relevant": len(relevant_by_user(split.test, threshold)),
        "test_ratings_unseen_items": int((~np.isin(split.test["i"].to_numpy(),
                                                   train_items)).sum()),
    }


def evaluate_system(system: System, split: Split, data: Dataset, k: int = 10,
                    threshold: float = RELEVANT_THRESHOLD) -> dict:
    """Every figure a fitted system supports, on one split."""
    out: dict = {}
    if system.score_fn is not None:
        out.update(evaluate_topk(system.score_fn, split.train, split.test, data.n_items, k,
                                 threshold=threshold))
    elif system.topk_fn is not None:
        users = np.union1d(split.train["u"].to_numpy(), split.test["u"].to_numpy())
        lists = system.topk_fn(users.astype(np.int64), k)
        out.update(evaluate_topk_lists((users, lists), split.test, data.n_items, k, threshold))
    if system.predict_fn is not None:
        out.update(evaluate_ratings(system.predict_fn, split.test, data.rating_scale))
    return out


def run_protocol(data: Dataset, systems: Mapping[str, SystemFit] | None = None, k: int = 10,
                 include_baselines: bool = True,
                 threshold: float = RELEVANT_THRESHOLD) -> dict:
    """Split, fit every system on train only, evaluate, and relate each ranker to EASE.

    ``systems`` maps report names to fit callables (:data:`SystemFit`). The
    result is JSON-ready: ``{"split": {...}, "k": k, name: {metric: value}, ...}``
    with ``recall@k_vs_ease`` etc. for every ranking system when EASE is among
    them. A name clash with a baseline (or ``split``/``k``) is refused rather
    than silently overwriting a reference figure.
    """
    fits: dict[str, SystemFit] = dict(baseline_fits()) if include_baselines else {}
    for name, fit in (systems or {}).items():
        if name in fits or name in RESERVED_NAMES:
            raise ValueError(f"system name {name!r} is taken by a baseline; pick another")
        fits[name] = fit
    if not fits:
        raise ValueError("no systems to evaluate")
    split = temporal_split(data.interactions)
    train_data = data.with_interactions(split.train)
    results: dict[str, dict] = {}
    for name, fit in fits.items():
        system = fit(train_data.interactions, train_data)
        results[name] = evaluate_system(system, split, data, k, threshold)
    ease = results.get("ease", {})
    for metrics in results.values():
        for key in (f"recall@{k}", f"ndcg@{k}", f"coverage@{k}"):
            if key in metrics and ease.get(key):
                metrics[f"{key}_vs_ease"] = metrics[key] / ease[key]
    return {"split": split_summary(split, threshold), "k": k, **results}


def system_results(result: dict) -> dict[str, dict]:
    """The per-system part of a :func:`run_protocol` result, in run order."""
    return {name: m for name, m in result.items() if name not in RESERVED_NAMES}


def format_report(result: dict) -> str:
    """A plain-text table of a :func:`run_protocol` result, for the CLI."""
    k = result.get("k", 10)
    s = result["split"]
    lines = [
        f"split: train {s['train']:,} / test {s['test']:,} ratings; "
        f"{s['users_with_relevant']:,} users with a relevant test item; "
        f"{s['test_ratings_unseen_items']:,} test ratings of items never rated in train",
        "",
    ]
    cols = [f"recall@{k}", f"ndcg@{k}", f"coverage@{k}", f"recall@{k}_vs_ease",
            f"ndcg@{k}_vs_ease", f"coverage@{k}_vs_ease", "rmse", "mae"]
    heads = [c.replace(f"@{k}_vs_ease", "/EASE") for c in cols]
    systems = system_results(result)
    width = max([len("system")] + [len(n) for n in systems])
    lines.append("  ".join([f"{'system':<{width}}"] + [f"{h:>12}" for h in heads]))
    for name, metrics in systems.items():
        cells = [f"{metrics[c]:>12.4f}" if c in metrics else f"{'-':>12}" for c in cols]
        lines.append("  ".join([f"{name:<{width}}"] + cells))
    return "\n".join(lines)
