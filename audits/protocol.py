"""The offline protocol on the subject's train-only engine, with bootstrap intervals.

One whole-data job, not per user: the protocol splits the data in time, fits
its baselines (popularity, item-kNN, EASE, bias) on the train part of the whole
catalogue and scores the protocol engine's lists against the test part. The
model card runs it in-process; ``python -m audits batch`` runs it once, as one
task beside the user blocks (:mod:`audits.batch_audit`), with the same function.

Apart from :mod:`audits.report` because that module imports the feedback-loop
simulation (and with it Keras), which a batch worker must not load; the engine
becomes a protocol system through :mod:`recengine.evaluation.engine_system`,
which needs no training either.
"""

from __future__ import annotations

import numpy as np

from recengine.evaluation import (
    System,
    ndcg_at_k_per_user,
    recall_at_k_per_user,
    relevant_by_user,
    run_protocol,
)
from recengine.evaluation.engine_system import engine_system
from recengine.subject import Subject

LEVEL = 0.95


def bootstrap_mean(values, n_boot: int, seed: int = 0, level: float = LEVEL) -> dict:
    """The mean with a percentile interval from resampling the values (users) ``n_boot`` times."""
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    if not len(v):
        return {"value": float("nan"), "ci_low": float("nan"), "ci_high": float("nan")}
    idx = np.random.default_rng(seed).integers(0, len(v), size=(int(n_boot), len(v)))
    means = v[idx].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return {"value": float(v.mean()), "ci_low": float(lo), "ci_high": float(hi)}


def protocol_figures(subject: Subject, k: int = 10, n_boot: int = 500, seed: int = 0,
                     include_baselines: bool = True) -> tuple[dict, dict]:
    """:func:`run_protocol` on the subject's protocol engine, plus bootstrap intervals.

    The pipeline is ``engine_system(subject.protocol)`` (the one protocol system
    of the engine); its lists are recorded as the protocol asks for them, and the
    per-user Recall@k and NDCG@k are recomputed from those very lists, so the
    intervals sit around the protocol's own figures.
    """
    fit_pipeline = engine_system(subject.protocol)
    seen: dict[int, list] = {}

    def fit(train, train_data) -> System:
        system = fit_pipeline(train, train_data)

        def topk(users, kk):
            lists = system.topk_fn(users, kk)
            seen.update({int(u): list(lst) for u, lst in zip(users, lists, strict=True)})
            return lists

        return System(system.name, topk_fn=topk, predict_fn=system.predict_fn)

    result = run_protocol(subject.data, {"pipeline": fit}, k=k,
                          include_baselines=include_baselines)
    relevant = relevant_by_user(subject.split.test)
    users = sorted(relevant)
    lists = [seen.get(u, []) for u in users]
    rel = [relevant[u] for u in users]
    out = {"users": len(users), "n_boot": int(n_boot), "level": LEVEL,
           f"recall@{k}": bootstrap_mean(recall_at_k_per_user(lists, rel, k), n_boot, seed),
           f"ndcg@{k}": bootstrap_mean(ndcg_at_k_per_user(lists, rel, k), n_boot, seed)}
    return result, out
