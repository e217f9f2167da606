"""The model card: intended use, data, model, ordering, why, evaluation, audits, ethics, limits.

One builder produces both the Markdown a person reads and the JSON a program
reads, from the same figures the audit functions return (nothing is retyped),
so the app's download, ``python -m audits report`` and the tests agree number
for number on the same :class:`~recengine.subject.Subject`. The section text
lives in :mod:`audits.card_sections`; this module runs the audits and holds
the card.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from recengine.evaluation import (
    System,
    ndcg_at_k_per_user,
    recall_at_k_per_user,
    relevant_by_user,
    run_protocol,
)
from recengine.evaluation.systems import engine_system
from recengine.objectives import BASE_OBJECTIVES, SERVED, normalise_weights
from recengine.policy import ContentPolicy
from recengine.ranking import Objective
from recengine.subject import Subject

from . import card_audit_sections as ca
from . import card_sections as cs
from .bias import audit_bias
from .card_data import AuditResults, ReportConfig
from .card_format import SECTIONS, Section, jsonable, markdown_table
from .content_filter import audit_content_filter, block_every_label
from .objectives import audit_objectives, candidate_pool
from .objectives import sample_users as _sample_users
from .simulation import run_study, study_arms
from .simulation_config import SimulationConfig
from .simulation_summary import summarise
from .simulation_world import NoGroundTruth, World
from .tradeoff import tradeoff_sweep
from .transparency import statement

LEVEL = 0.95


def sample_users(subject: Subject, config: ReportConfig) -> np.ndarray:
    """The users every audit of the card samples (the audits' own rule and seed)."""
    return _sample_users(subject.data.n_users, config.n_users, config.seed)


def source_slot_shares(subject: Subject, users, k: int, policy: ContentPolicy | None = None,
                       objective: Objective | None = None) -> tuple[dict, list]:
    """Share of shown slots with at least one hit from each retrieval source.

    Over the served engine's top ``k`` (:meth:`Engine.recommend`) for ``users``
    (dense indices); an item found by several sources counts for each, so the
    shares can sum to more than 1. Returns the figures and the results.
    """
    data, engine = subject.data, subject.served
    results = [engine.recommend(int(data.users["user_id"].iloc[u]), k, policy, objective)
               for u in np.asarray(users, np.int64).tolist()]
    slots = sum(len(r.items) for r in results)
    counts: dict[str, int] = {s: 0 for s in engine.config.retrieval.sources}
    several = 0
    for r in results:
        for it in r.items:
            found = {h.source for h in it.sources}
            several += len(found) > 1
            for s in found:
                counts[s] = counts.get(s, 0) + 1
    rows = [{"source": s, "slots": n, "share": n / slots if slots else float("nan")}
            for s, n in sorted(counts.items(), key=lambda kv: -kv[1])]
    return {"users": len(results), "k": int(k), "slots": int(slots),
            "several_sources_share": several / slots if slots else float("nan"),
            "sources": rows}, results


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


def run_audits(subject: Subject, config: ReportConfig | None = None) -> AuditResults:
    """Every audit with the card's settings (the same calls the pages make)."""
    cfg = config or ReportConfig()
    objset = subject.objectives
    active = objset.objective(cfg.objective, cfg.weights)
    served_order = None if cfg.objective == SERVED else active
    policy = cfg.policy_or_none
    users = sample_users(subject, cfg)
    sources, results = source_slot_shares(subject, users, cfg.k, policy, served_order)
    sponsored = subject.data.items["item_id"].to_numpy()[objset.business.sponsored]
    example = statement(results[0], cfg.policy, sponsored.tolist()) if results else ""
    ocfg = cfg.objective_config()
    pool = candidate_pool(subject.served, users, policy)
    objectives = audit_objectives(objset, ocfg, policy, pool=pool)
    tradeoff = tradeoff_sweep(objset, ocfg, cfg.tradeoff_steps, policy, pool=pool)
    every_label = cfg.policy.is_empty
    content_policy = block_every_label(objset) if every_label else cfg.policy
    content = audit_content_filter(objset, content_policy, ocfg)
    bias = audit_bias(subject, cfg.bias_config(), objective=served_order, policy=policy)
    protocol = uncertainty = None
    if cfg.include_protocol:
        protocol, uncertainty = protocol_figures(subject, cfg.k, cfg.n_boot, cfg.seed)
    return AuditResults(subject, cfg, active, users, sources, example, objectives, tradeoff,
                        content, content_policy, every_label, bias, protocol, uncertainty,
                        feedback_loops(subject, cfg))


def feedback_loops(subject: Subject, cfg: ReportConfig) -> dict | None:
    """The feedback-loop study for the card (:mod:`audits.simulation`), when asked for.

    Runs ``cfg.simulate_rounds`` rounds of the served subject's model on its own
    data, the unmitigated and mitigated arms and the oracle over
    ``cfg.simulate_seeds`` seeds; data without planted truth says so instead.
    """
    if cfg.simulate_rounds < 1:
        return None
    try:
        world = World.from_data(subject.data, subject.bundle, subject.bundle.config)
    except NoGroundTruth as exc:
        return {"skipped": str(exc)}
    weights = tuple(float(normalise_weights(cfg.weights)[o]) for o in BASE_OBJECTIVES)
    scfg = SimulationConfig(rounds=cfg.simulate_rounds, k=cfg.k, n_users=cfg.n_users,
                            objective=cfg.objective, weights=weights, content_filter=True)
    study = run_study(world, study_arms(scfg), list(range(cfg.simulate_seeds)))
    return {"rounds": cfg.simulate_rounds, "seeds": cfg.simulate_seeds,
            "users": cfg.n_users, "objective": cfg.objective,
            "learned": study.run("unmitigated").learned,
            "summary": summarise(study, cfg.objective)}


@dataclass
class ModelCard:
    title: str
    sections: list[Section]

    def to_dict(self) -> dict:
        return {"title": self.title,
                "sections": {s.title: jsonable(s.data) for s in self.sections}}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    def to_markdown(self) -> str:
        parts = [f"# {self.title}", ""]
        for s in self.sections:
            parts += [f"## {s.title}", "", s.markdown.strip(), ""]
        return "\n".join(parts)


def build_report(subject: Subject, config: ReportConfig | None = None,
                 results: AuditResults | None = None) -> ModelCard:
    """The model card for ``subject`` (running every audit unless ``results`` are given)."""
    cfg = config or ReportConfig()
    r = results or run_audits(subject, cfg)
    sections = [cs.intended_use(r), cs.data_set(r), cs.model(r), cs.ordering(r),
                cs.why_items(r), cs.evaluation(r), ca.objectives(r), ca.content_policy(r),
                ca.bias_fairness(r), ca.ethics(r), ca.limitations(r), ca.feedback_loops(r)]
    assert tuple(s.title for s in sections) == SECTIONS
    return ModelCard(f"Model card: {subject.data.name}", sections)


__all__ = ["SECTIONS", "AuditResults", "ModelCard", "ReportConfig", "Section",
           "bootstrap_mean", "build_report", "jsonable", "markdown_table", "protocol_figures",
           "run_audits", "sample_users", "source_slot_shares"]
