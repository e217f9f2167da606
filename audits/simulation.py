"""Feedback loops, simulated: the system learns from its own logs while users choose by truth.

The course warns of two loops: an advertiser that profits more bids more and
gets more traffic (harmful when it is the most exploitative), and engagement
maximisation amplifying content that engages because it is harmful. Neither
can be seen in one offline snapshot; both need rounds. :func:`simulate` runs
``T`` of them on synthetic data with planted truth (:mod:`audits.simulation_world`):

1. every simulated user is shown a top-``k`` list by the current system
   (:mod:`audits.simulation_system`: the served pipeline and the chosen
   objective, with the mitigations switched on);
2. each picks at most one item by the choice model (planted tastes, position
   bias; :class:`~audits.simulation_world.ChoiceModel`) and rates it by its
   planted satisfaction;
3. the picks are logged, advertisers move their bids with their profit, and
   the system learns from the log before the next round.

Each round's figures (:data:`~audits.simulation_metrics.MEASURES`,
:data:`~audits.simulation_metrics.OUTCOMES`) go into a :class:`Run`;
:func:`run_study` repeats arms (settings) over seeds, adds the oracle, and a
:class:`Study` gives per-round intervals and changes with intervals. UI-free:
``pages/10_Feedback_loops.py`` and ``python -m audits simulate`` show it.
Every figure is simulated.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp

from recengine.business import unit_profit
from recengine.config import TrainConfig
from recengine.data.synthetic import SyntheticConfig, make_synthetic_with_truth
from recengine.fit import train_two_tower
from recengine.model_store import demo_train_config
from recengine.split import temporal_split

from .objectives import sample_users
from .simulation_config import MITIGATIONS, SimulationConfig
from .simulation_metrics import (
    coverage,
    exposure_gini,
    homogenisation,
    mean_ild,
    pick_share,
    slot_share,
)
from .simulation_study import Change, Run, Study
from .simulation_system import LearningSystem, OracleSystem
from .simulation_world import Market, World, choose

ORACLE = "oracle"
#: progress(fraction done, text)
Progress = Callable[[float, str], None]


def train_world(synthetic: SyntheticConfig, train_config: TrainConfig | None = None) -> World:
    """Synthetic data, its truth, and a model trained as the app trains one (train split)."""
    data, truth = make_synthetic_with_truth(synthetic)
    cfg = train_config or demo_train_config()
    bundle = train_two_tower(data, temporal_split(data.interactions).train, cfg)
    return World(data, truth, synthetic, bundle, cfg)


def learned_statistics(cfg: SimulationConfig, oracle: bool = False) -> list[str]:
    """What the system learned between rounds in this run, in words (page and docs)."""
    if oracle:
        return ["nothing: the oracle ranks by planted truth and only skips consumed items"]
    out = []
    if cfg.statistics:
        out += ["top-in-genre, top-in-region and top-overall lists, popularity and recent "
                "popularity features, co-watch counts (engine rebuilt on the logged history)",
                "users' vectors, rating biases and mean-rating features (user tower re-run)",
                "items' mean-rating and popularity inputs (item tower re-run, similar table "
                "rebuilt)", "the P(watch) calibration (refitted on the logged history)"]
    else:
        out.append("no statistics: a frozen system")
    if cfg.engagement_loop and cfg.objective in ("engagement", "profit", "blend"):
        out.append("each item's engagement estimate, from the lists that showed it")
    if cfg.bid_loop and cfg.objective in ("profit", "blend"):
        out.append("the advertisers' bids (they move with the profit traffic brought)")
    if cfg.retrain_every:
        out.append(f"towers and ranking stage retrained from scratch every "
                   f"{cfg.retrain_every} rounds (no warm start)")
    return out


def boost_of(world: World, cfg: SimulationConfig) -> float:
    """How much more a flagged item pulls users (``cfg.boost``, else the data's planted one)."""
    return world.synthetic.harm_engagement_boost if cfg.boost is None else float(cfg.boost)


def simulate(world: World, cfg: SimulationConfig, seed: int = 0, arm: str = "run",
             oracle: bool = False, progress: Progress | None = None) -> Run:
    """``cfg.rounds`` rounds of show, choose, log, learn (the module docstring)."""
    start = time.perf_counter()
    rng = np.random.default_rng([seed, 2018])
    n_total = world.data.n_users
    users = sample_users(n_total, cfg.n_users or n_total, seed=0)
    market = Market.create(world, cfg.n_advertisers, cfg.exploitative, cfg.exploit_margin,
                           cfg.exploit_harm, cfg.exploit_markup, seed)
    system = (OracleSystem if oracle else LearningSystem)(world, market, users, cfg)
    boost, n = boost_of(world, cfg), len(users)
    consumed = np.zeros((n, world.data.n_items), bool)
    exploit_items = market.owner == 0
    figures = []
    for t in range(1, cfg.rounds + 1):
        lists = system.lists(rng)
        pull = np.full(lists.shape, np.nan)
        filled = lists >= 0
        pull[filled] = world.pull(np.broadcast_to(users[:, None], lists.shape)[filled],
                                  lists[filled], boost, cfg.choice)
        slot = choose(rng, pull, cfg.choice)
        picked = np.where(slot >= 0, lists[np.arange(n), np.maximum(slot, 0)], -1)
        has = picked >= 0
        ratings = world.rate(rng, users[has], picked[has], market.harm, cfg.choice)
        consumed[np.flatnonzero(has), picked[has]] = True
        figures.append(_figures(world, market, t, users, lists, picked, ratings, consumed,
                                exploit_items))
        if cfg.bid_loop and not oracle:
            market.update_bids(world, picked, n, cfg.reinvest, cfg.max_bid)
        system.learn(t, lists, picked, ratings)
        if progress is not None:
            progress(t / cfg.rounds, f"{arm}, seed {seed}: round {t}/{cfg.rounds}")
    return Run(arm, seed, cfg, figures, learned_statistics(cfg, oracle), dict(system.refused),
               system.retrains, time.perf_counter() - start)


def _figures(world: World, market: Market, t: int, users: np.ndarray, lists: np.ndarray,
             picked: np.ndarray, ratings: np.ndarray, consumed: np.ndarray,
             exploit_items: np.ndarray) -> dict:
    n, n_items = len(users), world.data.n_items
    has = picked >= 0
    chosen = picked[has]
    biz = world.business
    profit = unit_profit(biz.price, market.margin, market.item_bids())
    return {
        "round": t,
        "gini": exposure_gini(lists, n_items),
        "coverage": coverage(lists, n_items),
        "flagged_share": slot_share(lists, world.flagged),
        "exploit_share": slot_share(lists, exploit_items, market.owner >= 0),
        "utility": (float(world.satisfaction(users[has], chosen, market.harm).mean())
                    if has.any() else float("nan")),
        "homogenisation": homogenisation(sp.csr_matrix(consumed)),
        "ild": mean_ild(lists, world.truth.item_factors),
        "picks": float(has.mean()),
        "liked": float((ratings >= 4.0).sum() / n),
        "mean_rating": float(ratings.mean()) if len(ratings) else float("nan"),
        "minutes": float(biz.watch_minutes[chosen].sum() / n),
        "revenue": float(profit[chosen].sum() / n),
        "exploit_clicks": pick_share(picked, exploit_items, market.owner >= 0),
        "exploit_bid": float(market.bids[0]),
    }


def study_arms(cfg: SimulationConfig) -> dict[str, SimulationConfig]:
    """The arms a page or CLI run compares: unmitigated, mitigated, each mitigation alone.

    Single-mitigation arms are added only when several are on, so each one's
    cost can be told apart.
    """
    arms = {"unmitigated": cfg.unmitigated()}
    used = cfg.mitigations
    if used:
        arms["mitigated"] = cfg
    if len(used) > 1:
        arms.update({f"only {m}": cfg.only(m) for m in used})
    return arms


def run_study(world: World, arms: dict[str, SimulationConfig], seeds: Sequence[int],
              oracle: bool = True, progress: Progress | None = None) -> Study:
    """Every arm for every seed, plus the oracle (same rounds, users and market)."""
    plan = [(name, cfg, False) for name, cfg in arms.items()]
    if oracle:
        plan.append((ORACLE, next(iter(arms.values())), True))
    total, runs = len(plan) * len(seeds), []
    for s_pos, seed in enumerate(seeds):
        for a_pos, (name, cfg, is_oracle) in enumerate(plan):
            done = s_pos * len(plan) + a_pos

            def step(frac: float, text: str, done: int = done) -> None:
                if progress is not None:
                    progress((done + frac) / total, text)

            runs.append(simulate(world, cfg, seed, name, is_oracle, step))
    return Study(runs)


__all__ = ["MITIGATIONS", "ORACLE", "Change", "Run", "SimulationConfig", "Study",
           "learned_statistics", "run_study", "simulate", "study_arms", "train_world"]
