"""Latency of one user's recommend call (retrieval + policy + ranking) by catalogue size.

Target (../shared/TARGETS.md): p50 <= 2 ms and p95 <= 10 ms on CPU, flat from 10k
to 1M items. Reference from the same run: scoring the whole catalogue for the
same user (one matrix-vector product + top-K, watched items excluded).

The catalogue is synthetic (random genres, Zipf popularity, 20 regions) and the
model random 32-d unit vectors: latency does not depend on what the vectors
mean. The similar table is random neighbour ids by default (reading a row costs
the same whatever it holds; building a real 1M table is bench/similar_table.py's
job); ``--real-table`` builds it with the real builder instead.

    python bench/recommend_latency.py [--sizes 10000 100000 1000000] [--calls 300]
                                      [--model DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recengine.engine import Engine  # noqa: E402
from recengine.policy import ContentPolicy  # noqa: E402
from recengine.popularity_penalty import PopularityPenalty, with_penalty  # noqa: E402
from recengine.ranking import score_all  # noqa: E402
from recengine.reranker import FEATURES, Reranker  # noqa: E402
from recengine.schema import Dataset  # noqa: E402
from recengine.scoring import VectorScorer  # noqa: E402
from recengine.similarity import SimilarTable, build_similar_table  # noqa: E402

GENRES = ["Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary",
          "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
          "Sci-Fi", "Thriller", "War", "Western"]


#: ../shared/TARGETS.md: one user's call, milliseconds
P50_TARGET_MS, P95_TARGET_MS = 2.0, 10.0


def synthetic(n_items: int, n_users: int, per_user: int, seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    combos = ["|".join(sorted(rng.choice(GENRES, size=rng.integers(1, 4), replace=False)))
              for _ in range(300)]
    items = pd.DataFrame({
        "item_id": np.arange(n_items, dtype=np.int64) + 1,
        "title": pd.Series(np.arange(n_items)).map("Title {}".format),
        "year": rng.integers(1950, 2024, size=n_items).astype(float),
        "genres": np.asarray(combos, dtype=object)[rng.integers(0, len(combos), n_items)],
        "labels": np.where(rng.random(n_items) < 0.05, "graphic_violence", ""),
    })
    users = pd.DataFrame({"user_id": np.arange(n_users, dtype=np.int64) + 1,
                          "region": rng.choice([f"C{r:02d}" for r in range(20)], n_users)})
    # Zipf-like popularity over a random permutation of the catalogue
    pop = 1.0 / np.arange(1, n_items + 1) ** 0.8
    pop = pop[rng.permutation(n_items)]
    pop /= pop.sum()
    u = np.repeat(np.arange(n_users), per_user)
    i = np.concatenate([rng.choice(n_items, size=per_user, replace=False, p=pop)
                        for _ in range(n_users)])
    inter = pd.DataFrame({"user_id": u + 1, "item_id": i + 1,
                          "rating": rng.integers(1, 11, size=len(u)) / 2,
                          "timestamp": rng.integers(0, 10**9, size=len(u))})
    return Dataset(items, users, inter, name=f"latency-{n_items}")


def percentiles(seconds: list[float]) -> tuple[float, float]:
    ms = np.asarray(seconds) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def measure(n_items: int, args) -> dict:
    t0 = time.perf_counter()
    data = synthetic(n_items, args.users, args.per_user, args.seed)
    scorer = VectorScorer.random(n_items, args.users, dim=32, seed=args.seed)
    data_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    if args.real_table:
        table = build_similar_table(scorer.item_vectors)
    else:
        rng = np.random.default_rng(args.seed)
        idx = rng.integers(0, n_items, size=(n_items, 20), dtype=np.int32)
        dist = np.sort(rng.random((n_items, 20), dtype=np.float32), axis=1)
        table = SimilarTable(idx, dist, method="random")
    engine = Engine.build(data, scorer, similar_table=table)
    # time the learned ranking stage's path too (its features and one dot product);
    # the weights do not change the work, so fixed ones stand in for fitted ones
    # (wrapped in the popularity penalty, as fitting serves it when a strength is chosen)
    stage = Reranker(np.zeros(len(FEATURES)), np.ones(len(FEATURES)),
                     np.linspace(1.0, 0.1, len(FEATURES)), 0.0)
    engine.reranker = with_penalty(stage, PopularityPenalty(0.1, 0.0, 1.0))
    build_s = time.perf_counter() - t0

    rng = np.random.default_rng(args.seed + 1)
    users = rng.integers(0, args.users, size=args.calls)
    policy = ContentPolicy(blocked_labels=("graphic_violence",))
    user_ids = data.users["user_id"].to_numpy()
    for u in users[:20]:  # warm-up
        engine.recommend(int(user_ids[u]), k=10, policy=policy)
    # separate loops: interleaving them lets the full scan evict the pipeline's caches
    pipe, full = [], []
    for u in users.tolist():
        t = time.perf_counter()
        engine.recommend(int(user_ids[u]), k=10, policy=policy)
        pipe.append(time.perf_counter() - t)
    for u in users.tolist():
        t = time.perf_counter()
        v_u = scorer.user_vector(u)
        score_all(engine.item_vectors, v_u, 10, exclude=engine.index.watched(u))
        full.append(time.perf_counter() - t)
    p50, p95 = percentiles(pipe)
    f50, f95 = percentiles(full)
    return {"n": n_items, "data_s": data_s, "build_s": build_s, "p50": p50, "p95": p95,
            "full50": f50, "full95": f95}


def measure_bundle(path: str, args) -> dict:
    """The same timing on a saved bundle's served engine (its Keras-trained scorer and stage).

    The synthetic rows above use a plain vector scorer; a real bundle's scorer
    reads its rating head from a Keras model, so this row shows what a served
    call costs with everything a trained model brings.
    """
    from recengine.serving import load_serving_engine

    engine = load_serving_engine(path)
    data = engine.data
    rng = np.random.default_rng(args.seed + 1)
    user_ids = data.users["user_id"].to_numpy()
    users = rng.integers(0, len(user_ids), size=args.calls)
    labels = [lab for lab in engine.index.catalogue.labels.tolist() if lab][:1]
    policy = ContentPolicy(blocked_labels=tuple(labels[0].split("|")[:1])) if labels else None
    for u in users[:20]:
        engine.recommend(int(user_ids[u]), k=10, policy=policy)
    times = []
    for u in users.tolist():
        t = time.perf_counter()
        engine.recommend(int(user_ids[u]), k=10, policy=policy)
        times.append(time.perf_counter() - t)
    p50, p95 = percentiles(times)
    return {"n": data.n_items, "p50": p50, "p95": p95, "stage": engine.reranker.name}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--per-user", type=int, default=40)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--real-table", action="store_true")
    parser.add_argument("--model", help="also time a saved bundle's served engine (a DIR "
                                        "from python -m recengine train)")
    args = parser.parse_args()
    print(f"recommend latency: {args.users} users x {args.per_user} interactions, k=10, "
          f"policy blocking one label, {args.calls} calls, similar table "
          f"{'built' if args.real_table else 'random ids'}")
    head = (f"{'items':>9} {'prep s':>7} {'p50 ms':>7} {'p95 ms':>7} {'full p50':>9} "
            f"{'full p95':>9} {'full/pipe p50':>13} {'target':>7}")
    print(head)
    print("-" * len(head))
    rows = []
    for n in args.sizes:
        r = measure(n, args)
        rows.append(r)
        ok = "met" if r["p50"] <= P50_TARGET_MS and r["p95"] <= P95_TARGET_MS else "MISSED"
        print(f"{n:>9,} {r['build_s']:>7.1f} {r['p50']:>7.2f} {r['p95']:>7.2f} "
              f"{r['full50']:>9.2f} {r['full95']:>9.2f} {r['full50'] / r['p50']:>12.1f}x "
              f"{ok:>7}", flush=True)
    if len(rows) > 1:
        print(f"flatness: p50 at {rows[-1]['n']:,} / p50 at {rows[0]['n']:,} = "
              f"{rows[-1]['p50'] / rows[0]['p50']:.2f}x; full-catalogue scoring "
              f"{rows[-1]['full50'] / rows[0]['full50']:.1f}x")
    print("prep s: similar table + retrieval index precomputation (once per model)")
    if args.model:
        b = measure_bundle(args.model, args)
        ok = "met" if b["p50"] <= P50_TARGET_MS and b["p95"] <= P95_TARGET_MS else "MISSED"
        print(f"saved bundle {args.model} ({b['n']:,} items, {b['stage']} stage): "
              f"p50 {b['p50']:.2f} ms, p95 {b['p95']:.2f} ms ({ok})")


if __name__ == "__main__":
    main()
