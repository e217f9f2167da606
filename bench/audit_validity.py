"""Validity, measured: false alarms on shuffled labels, planted gaps found, served lists equal.

Three checks that the audits say what they claim (issue 11), all on one trained
model and on per-user figures computed **once** (Recall@10 and squared errors
from :func:`audits.bias.per_user_accuracy`, exposure from
:func:`audits.bias.per_user_exposure` on the served lists), then reused:

* **false_alarm_rate**: each group column the data records has its labels
  permuted over the audited users (group sizes kept), ``--shuffles`` times; each
  time :func:`audits.bias.group_figures` sizes every gap, and the share of
  shuffles whose gap interval excludes 0 is the false-alarm rate of that
  (column, metric), with a 95% Wilson interval (target: <= 5%). Data without a
  demographic column (ml-latest-small) gets synthetic columns of balanced random
  labels with 2, 4 and 21 groups instead, and the JSON says so.
* **planted_coverage**: the audited users split into two random halves; in one
  half each relevant test item is replaced, with probability ``s``, by a random
  item that user never rated, so that half's Recall@10 drops. The protocol lists
  do not change (only the test items do), so recall is recomputed from lists
  computed once. The planted gap is **analytic**: the exact expectation, over
  re-draws of the halves and of the planting, of (recall of the intact half -
  recall of the planted half), given the users, lists and test ratings:
  ``s * mean_u (hits_u - n_u m_u / |N_u|) / min(n_u, k)`` over users with a
  relevant item (``n_u`` relevant items, ``hits_u`` of them in the list, ``m_u``
  list items the user never rated, ``|N_u|`` items the user never rated). A
  Monte Carlo mean over cheap re-draws (no bootstrap) is stored beside it in
  ``settings`` as a check. Reported per size: the share of repeats whose
  interval (turned to the intact-minus-planted direction) covers the planted gap
  (target >= 90%) and the share that excludes 0 in the planted direction.
* **served_agreement**: each audited user's served list (what the audits read:
  ``subject.served.recommend_topk_batch`` mapped to item ids) against the list
  of a fresh ``load_serving_engine(DIR).recommend`` for every audited user, and
  of the real ``python -m recengine recommend --json`` for a few (each call
  loads TensorFlow). Target: 100% equal, item ids in order.

    python bench/audit_validity.py --data SPEC --json OUT [--shuffles 100]
        [--repeats 20] [--users N] [--n-boot B] [--model DIR | --save-model DIR]
        [--epochs N] [--cli-users 5] [--seed 0]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from audits.bias import (  # noqa: E402
    BiasAuditConfig,
    group_figures,
    per_user_accuracy,
    per_user_exposure,
    user_groups,
)
from audits.group_gaps import group_gap  # noqa: E402
from audits.objectives import sample_users  # noqa: E402
from recengine.evaluation import recall_at_k_per_user, relevant_by_user  # noqa: E402
from recengine.subject import Subject  # noqa: E402

RESULTS = ROOT / "bench" / "results"
#: group counts of the synthetic random-label columns used when the data has none
RANDOM_GROUPS = (2, 4, 21)
SHARES = (0.3, 0.7)
INTACT, PLANTED = "intact", "planted"


# ----- per-user figures, once ---------------------------------------------------------
@dataclass
class Figures:
    """Everything the three checks reuse: per-user figures and both kinds of list."""

    users: np.ndarray  # dense indices of the audited users
    per_user: pd.DataFrame  # u, recall@k, sse, n_test, long_tail_share, rec_popularity, ...
    protocol_lists: list[np.ndarray]  # what Recall@k is measured on (train-only)
    served_lists: list[np.ndarray]  # what exposure is measured on (as users get it)
    relevant: dict[int, np.ndarray]  # u -> relevant test items (rating >= 4)
    k: int


def compute_figures(subject: Subject, users: np.ndarray, cfg: BiasAuditConfig) -> Figures:
    """The audit's per-user figures for ``users``, with the lists they were measured on."""
    k = cfg.k
    served = subject.served.recommend_topk_batch(users, k)
    exposure = per_user_exposure(subject, users, served, cfg)
    accuracy = per_user_accuracy(subject, users, k, None, None)
    per_user = exposure.merge(accuracy, on="u")
    protocol = subject.protocol.recommend_topk_batch(users, k)
    relevant = relevant_by_user(subject.split.test)
    # the lists kept for planting are the ones per_user_accuracy measured
    check = [float(recall_at_k_per_user([lst], [relevant[u]], k)[0]) if u in relevant
             else np.nan for u, lst in zip(users.tolist(), protocol, strict=True)]
    if not np.allclose(check, per_user[f"recall@{k}"].to_numpy(float), equal_nan=True):
        raise RuntimeError("protocol lists differ from the ones per_user_accuracy measured")
    return Figures(users, per_user, protocol, served, relevant, k)


def label_columns(subject: Subject, users: np.ndarray, seed: int = 0
                  ) -> tuple[pd.DataFrame, str | None]:
    """The data's group columns (dense user index), or balanced random labels when it has none."""
    groups = user_groups(subject.data.users)
    if not groups.empty:
        return groups, None
    rng = np.random.default_rng(seed)
    out = pd.DataFrame(index=pd.RangeIndex(subject.data.n_users))
    for n_groups in RANDOM_GROUPS:
        col = np.full(subject.data.n_users, None, dtype=object)
        col[users] = rng.permutation([f"g{j:02d}" for j in np.arange(len(users)) % n_groups])
        out[f"random_{n_groups}"] = col
    note = ("the data records no demographic column: false alarms are measured on synthetic "
            f"columns of balanced random labels with {', '.join(map(str, RANDOM_GROUPS))} groups "
            "(random_2, random_4, random_21), shuffled like real ones")
    return out, note


# ----- false alarms on shuffled labels -------------------------------------------------
def wilson(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (NaN, NaN when n = 0)."""
    if n == 0:
        return float("nan"), float("nan")
    from scipy.stats import binomtest

    ci = binomtest(int(successes), int(n)).proportion_ci(confidence_level=level,
                                                         method="wilson")
    return float(ci.low), float(ci.high)


def false_alarm_rates(fig: Figures, groups: pd.DataFrame, cfg: BiasAuditConfig,
                      shuffles: int = 100, seed: int = 0,
                      columns: list[str] | None = None) -> dict:
    """Column -> metric -> {rate, ci_low, ci_high, shuffles}: gaps "found" in shuffled labels.

    Each shuffle permutes one column's labels over the audited users (missing
    labels move with them, so every group keeps its size) and sizes every metric's
    gap with :func:`audits.bias.group_figures`, with a fresh bootstrap seed.
    ``shuffles`` in the result counts the shuffles whose interval was defined
    (at least two groups large enough); the rate is over those.
    """
    rng = np.random.default_rng(seed)
    users = fig.users
    out: dict = {}
    for col in columns or list(groups.columns):
        labels = groups[col].to_numpy(dtype=object)[users]
        alarms: dict[str, int] = {}
        valid: dict[str, int] = {}
        for s in range(shuffles):
            full = np.full(len(groups), None, dtype=object)
            full[users] = labels[rng.permutation(len(users))]
            frame = pd.DataFrame({col: full}, index=groups.index)
            run_cfg = dataclasses.replace(cfg, seed=cfg.seed + 1000 * (s + 1))
            _, gaps = group_figures(fig.per_user, frame, fig.k, run_cfg)
            for row in gaps.itertuples(index=False):
                if not (np.isfinite(row.ci_low) and np.isfinite(row.ci_high)):
                    continue
                valid[row.metric] = valid.get(row.metric, 0) + 1
                alarms[row.metric] = (alarms.get(row.metric, 0)
                                      + int(row.ci_low > 0 or row.ci_high < 0))
        out[col] = {}
        for metric, n in valid.items():
            lo, hi = wilson(alarms[metric], n)
            out[col][metric] = {"rate": alarms[metric] / n, "ci_low": lo, "ci_high": hi,
                                "shuffles": n}
    return out


# ----- planted gaps ----------------------------------------------------------------------
class Planter:
    """Replaces a share of some users' relevant test items with items they never rated."""

    def __init__(self, fig: Figures, rated: dict[int, np.ndarray], n_items: int):
        self.fig = fig
        self.k = fig.k
        all_items = np.arange(n_items, dtype=np.int64)
        self.never: dict[int, np.ndarray] = {}
        self.slope: dict[int, float] = {}  # d E[recall_u] / d s (negative)
        for u, lst in zip(fig.users.tolist(), fig.protocol_lists, strict=True):
            rel = fig.relevant.get(u)
            if rel is None:
                continue
            never = np.setdiff1d(all_items, rated[u], assume_unique=True)
            self.never[u] = never
            top = list(dict.fromkeys(int(x) for x in list(lst)[:self.k]))
            rel_set = set(rel.tolist())
            hits = sum(1 for x in top if x in rel_set)
            m = int(np.isin(top, never).sum())
            n = len(rel)
            self.slope[u] = -(hits - n * m / len(never)) / min(n, self.k)

    def planted_gap(self, share: float) -> float:
        """Analytic E[recall(intact half) - recall(planted half)] over re-draws (see module)."""
        return float(-share * np.mean(list(self.slope.values())))

    def plant(self, rng: np.random.Generator, planted: np.ndarray, share: float
              ) -> list[np.ndarray]:
        """Relevant items per audited user, ``share`` of each planted user's replaced."""
        out = []
        for u, is_planted in zip(self.fig.users.tolist(), planted.tolist(), strict=True):
            rel = self.fig.relevant.get(u, np.zeros(0, np.int64))
            if is_planted and len(rel):
                keep = rng.random(len(rel)) >= share
                new = rng.choice(self.never[u], size=int((~keep).sum()), replace=False)
                rel = np.sort(np.concatenate([rel[keep], new]))
            out.append(rel)
        return out

    def recall(self, relevant: list[np.ndarray]) -> np.ndarray:
        return recall_at_k_per_user(self.fig.protocol_lists, relevant, self.k)

    def draw(self, rng: np.random.Generator, share: float) -> tuple[np.ndarray, np.ndarray]:
        """One re-draw: (half labels, per-user recall with one half planted)."""
        n = len(self.fig.users)
        half = np.zeros(n, dtype=bool)
        half[rng.permutation(n)[: n // 2]] = True
        labels = np.where(half, PLANTED, INTACT).astype(object)
        return labels, self.recall(self.plant(rng, half, share))


def rated_by_user(subject: Subject) -> dict[int, np.ndarray]:
    """Every item each user rated (train and test): the planted items come from outside it."""
    inter = subject.data.interactions
    u = subject.data.user_index(inter["user_id"])
    i = subject.data.item_index(inter["item_id"])
    frame = pd.DataFrame({"u": u, "i": i})
    return {int(k): np.unique(g.to_numpy(np.int64)) for k, g in frame.groupby("u")["i"]}


def signed_interval(res) -> tuple[float, float, float]:
    """(gap, low, high) of intact minus planted, whichever half the audit found larger."""
    if res.largest == INTACT:
        return res.gap, res.ci_low, res.ci_high
    return -res.gap, -res.ci_high, -res.ci_low


def planted_coverage(planter: Planter, cfg: BiasAuditConfig, shares=SHARES, repeats: int = 20,
                     seed: int = 0, check_draws: int = 200) -> tuple[list[dict], dict]:
    """Per planted size: coverage of the planted gap and the share found (excludes 0).

    Returns the rows and, per size, the Monte Carlo check of the analytic planted
    gap (mean observed gap over ``check_draws`` cheap re-draws, no bootstrap).
    """
    rows, checks = [], {}
    gap_cfg = cfg.gap_config()
    for j, share in enumerate(shares):
        rng = np.random.default_rng([seed, j])
        target = planter.planted_gap(share)
        covered = found = 0
        observed = []
        for r in range(repeats):
            labels, recall = planter.draw(rng, share)
            den = np.where(np.isfinite(recall), 1.0, np.nan)
            res = group_gap(recall, den, labels, None,
                            dataclasses.replace(gap_cfg, seed=cfg.seed + 1000 * (r + 1)))
            gap, lo, hi = signed_interval(res)
            observed.append(gap)
            covered += int(lo <= target <= hi)
            found += int(lo > 0)
        rows.append({"share_replaced": share, "planted_gap": target,
                     "coverage": covered / repeats, "excludes_zero_share": found / repeats,
                     "repeats": repeats})
        mc = []
        for _ in range(check_draws):
            labels, recall = planter.draw(rng, share)
            ok = np.isfinite(recall)
            mc.append(np.mean(recall[ok & (labels == INTACT)])
                      - np.mean(recall[ok & (labels == PLANTED)]))
        checks[str(share)] = {"analytic": target,
                              "monte_carlo_mean": float(np.mean(mc)) if mc else None,
                              "monte_carlo_se": (float(np.std(mc, ddof=1) / np.sqrt(len(mc)))
                                                 if len(mc) > 1 else None),
                              "draws": check_draws,
                              "mean_observed_gap_in_repeats": float(np.mean(observed))}
    return rows, checks


# ----- served lists ----------------------------------------------------------------------
def audited_served_ids(subject: Subject, fig: Figures) -> dict[int, list[int]]:
    """User id -> the served list the audits read, as item ids in order."""
    item_ids = subject.data.items["item_id"].to_numpy(np.int64)
    user_ids = subject.data.users["user_id"].to_numpy(np.int64)
    return {int(user_ids[u]): [int(x) for x in item_ids[lst]]
            for u, lst in zip(fig.users.tolist(), fig.served_lists, strict=True)}


def engine_ids(engine, user_id: int, k: int) -> list[int]:
    return [int(it.item_id) for it in engine.recommend(int(user_id), k).items]


def cli_ids(model_dir: str | Path, user_id: int, k: int) -> list[int]:
    """The real ``python -m recengine recommend --json`` list, in a fresh process."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    proc = subprocess.run([sys.executable, "-m", "recengine", "recommend", "--model",
                           str(model_dir), "--user", str(user_id), "--k", str(k), "--json"],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return [int(it["item_id"]) for it in json.loads(proc.stdout)["items"]]


def served_agreement(audited: dict[int, list[int]], engine, k: int,
                     model_dir: str | Path | None = None, cli_users: int = 5,
                     seed: int = 0) -> tuple[dict, list[dict]]:
    """Agreement of the audited lists with ``engine.recommend`` (all) and the CLI (a few).

    ``share``: users whose audited list equals every list it was checked against.
    Also returns the disagreements found (user, path, audited, served).
    """
    user_ids = sorted(audited)
    bad: dict[int, list[dict]] = {}
    agree_in = 0
    for uid in user_ids:
        got = engine_ids(engine, uid, k)
        if got == audited[uid]:
            agree_in += 1
        else:
            bad.setdefault(uid, []).append({"user_id": uid, "path": "in-process",
                                            "audited": audited[uid], "served": got})
    chosen: list[int] = []
    agree_cli = 0
    if model_dir is not None and cli_users > 0:
        rng = np.random.default_rng(seed)
        chosen = sorted(rng.choice(user_ids, size=min(cli_users, len(user_ids)),
                                   replace=False).tolist())
        for uid in chosen:
            got = cli_ids(model_dir, uid, k)
            if got == audited[uid]:
                agree_cli += 1
            else:
                bad.setdefault(uid, []).append({"user_id": uid, "path": "cli",
                                                "audited": audited[uid], "served": got})
    result = {"cli_users": len(chosen), "cli_agree": agree_cli,
              "inprocess_users": len(user_ids), "inprocess_agree": agree_in,
              "share": (len(user_ids) - len(bad)) / len(user_ids) if user_ids else None}
    return result, [d for rows in bad.values() for d in rows]


# ----- the run ---------------------------------------------------------------------------
def default_data() -> str:
    return "synthetic"


def load_subject(args) -> tuple[Subject, str | None, float]:
    """(subject, model directory or None when trained here, training seconds)."""
    from recengine.data import load_source
    from recengine.serving import load_for_data

    if args.model:
        data, bundle = load_for_data(args.model, load_source(args.data) if args.data else None)
        return Subject.build(data, bundle), args.model, 0.0
    from recengine.config import TrainConfig
    from recengine.fit import train_two_tower
    from recengine.split import temporal_split

    data = load_source(args.data or default_data())
    cfg = TrainConfig() if args.epochs is None else TrainConfig(epochs=args.epochs)
    start = time.perf_counter()
    bundle = train_two_tower(data, temporal_split(data.interactions).train, cfg)
    return Subject.build(data, bundle), None, time.perf_counter() - start


def print_table(result: dict) -> None:
    print("\n== false alarms on shuffled labels (target <= 5%) ==")
    print(f"{'column':<14}{'metric':<18}{'rate':>7}  95% interval   shuffles")
    for col, metrics in result["false_alarm_rate"].items():
        for metric, r in metrics.items():
            print(f"{col:<14}{metric:<18}{r['rate']:>7.1%}  "
                  f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]  {r['shuffles']:>6}")
    print("\n== planted Recall@10 gap (coverage target >= 90%) ==")
    print(f"{'share':>6}{'planted gap':>13}{'coverage':>10}{'excl. 0':>9}{'repeats':>9}")
    for r in result["planted_coverage"]:
        print(f"{r['share_replaced']:>6.2f}{r['planted_gap']:>13.4f}{r['coverage']:>10.0%}"
              f"{r['excludes_zero_share']:>9.0%}{r['repeats']:>9}")
    a = result["served_agreement"]
    print("\n== served lists: audited vs served (target 100%) ==")
    print(f"in-process {a['inprocess_agree']}/{a['inprocess_users']}, "
          f"CLI {a['cli_agree']}/{a['cli_users']}, share {a['share']:.1%}")
    print(f"\n{result['seconds']['total']:.0f} s in all")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None,
                        help="data source spec (default: synthetic, or the model's data)")
    parser.add_argument("--json", default=None, help="write the figures here")
    parser.add_argument("--model", default=None, help="a saved bundle (default: train one)")
    parser.add_argument("--save-model", default=None,
                        help="keep the model trained here in this directory (reuse: --model)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="training epochs (default: TrainConfig's, early stopping on)")
    parser.add_argument("--shuffles", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--users", type=int, default=None, help="audited users (default all)")
    parser.add_argument("--n-boot", type=int, default=BiasAuditConfig.n_boot)
    parser.add_argument("--cli-users", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    seconds: dict[str, float] = {}
    load_avg = os.getloadavg() if hasattr(os, "getloadavg") else None
    subject, model_dir, seconds["train"] = load_subject(args)
    data = subject.data
    n_users = data.n_users if args.users is None else args.users
    cfg = BiasAuditConfig(n_users=n_users, n_boot=args.n_boot, seed=args.seed)
    users = sample_users(data.n_users, cfg.n_users, cfg.seed)

    t = time.perf_counter()
    fig = compute_figures(subject, users, cfg)
    seconds["per_user_figures"] = time.perf_counter() - t

    t = time.perf_counter()
    groups, note = label_columns(subject, users, args.seed)
    false_alarms = false_alarm_rates(fig, groups, cfg, args.shuffles, args.seed)
    seconds["false_alarm_rate"] = time.perf_counter() - t

    t = time.perf_counter()
    planter = Planter(fig, rated_by_user(subject), data.n_items)
    planted, checks = planted_coverage(planter, cfg, SHARES, args.repeats, args.seed)
    seconds["planted_coverage"] = time.perf_counter() - t

    t = time.perf_counter()
    from recengine.bundle import save_bundle
    from recengine.serving import load_serving_engine

    with tempfile.TemporaryDirectory() as tmp:
        if model_dir is None:
            model_dir = save_bundle(subject.bundle, Path(args.save_model or Path(tmp) / "model"))
        engine = load_serving_engine(model_dir)
        agreement, disagreements = served_agreement(audited_served_ids(subject, fig), engine,
                                                    cfg.k, model_dir, args.cli_users, args.seed)
    seconds["served_agreement"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - start

    result = {
        "data": {"source": data.source, "name": data.name, "n_users": data.n_users,
                 "n_items": data.n_items, "interactions": int(len(data.interactions)),
                 "audited_users": int(len(users)),
                 "users_with_relevant": int(fig.per_user[f"recall@{cfg.k}"].notna().sum()),
                 "group_columns": {c: int(groups[c].iloc[users].nunique())
                                   for c in groups.columns},
                 "group_columns_synthetic": note is not None, "group_columns_note": note},
        "settings": {"k": cfg.k, "shuffles": args.shuffles, "repeats": args.repeats,
                     "n_boot": cfg.n_boot, "level": cfg.level,
                     "min_group_size": cfg.min_group_size, "seed": args.seed,
                     "shares_replaced": list(SHARES), "epochs": args.epochs,
                     "model": "given" if args.model else "trained here (TrainConfig)",
                     "false_alarm": "share of shuffles whose gap interval excludes 0 (per "
                                    "family, before Holm); 95% Wilson interval",
                     "planted_gap_method": "analytic: exact expectation over re-draws of "
                                           "the halves and the planting (see the script)",
                     "planted_gap_check": checks,
                     "excludes_zero": "interval wholly above 0 in the intact-minus-planted "
                                      "direction",
                     "served_share": "audited users whose list equals every served list it "
                                     "was checked against (in-process all, CLI a few)",
                     "served_disagreements": disagreements[:20],
                     "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                                 "load_average_at_start": load_avg}},
        "false_alarm_rate": false_alarms,
        "planted_coverage": planted,
        "served_agreement": agreement,
        "seconds": seconds,
    }
    from recengine.cli.evaluate import json_ready

    result = json_ready(result)
    print_table(result)
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
