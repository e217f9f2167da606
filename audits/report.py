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

from recengine.objectives import BASE_OBJECTIVES, SERVED, normalise_weights
from recengine.subject import Subject

from . import card_audit_sections as ca
from . import card_sections as cs
from .bias import audit_bias
from .card_data import AuditResults, ReportConfig
from .card_format import SECTIONS, Section, jsonable, markdown_table
from .content_filter import audit_content_filter, block_every_label
from .objectives import audit_objectives, candidate_pool
from .objectives import sample_users as _sample_users
from .protocol import LEVEL, bootstrap_mean, protocol_figures
from .simulation import run_study, study_arms
from .simulation_config import SimulationConfig
from .simulation_summary import summarise
from .simulation_world import NoGroundTruth, World
from .sources import source_slot_shares
from .tradeoff import tradeoff_sweep
from .transparency import statement


def sample_users(subject: Subject, config: ReportConfig) -> np.ndarray:
    """The users every audit of the card samples (the audits' own rule and seed)."""
    return _sample_users(subject.data.n_users, config.n_users, config.seed)


def run_audits(subject: Subject, config: ReportConfig | None = None) -> AuditResults:
    """Every audit with the card's settings (the same calls the pages make)."""
    cfg = config or ReportConfig()
    objset = subject.objectives
    active = objset.objective(cfg.objective, cfg.weights)
    served_order = None if cfg.objective == SERVED else active
    policy = cfg.policy_or_none
    users = sample_users(subject, cfg)
    pool = candidate_pool(subject.served, users, policy)
    sources = source_slot_shares(subject, users, cfg.k, policy, served_order, pool=pool)
    sponsored = subject.data.items["item_id"].to_numpy()[objset.business.sponsored]
    example = ""
    if len(users):  # what the first sampled user is told, from their served list
        first = subject.served.recommend(int(subject.data.users["user_id"].iloc[int(users[0])]),
                                         cfg.k, policy, served_order)
        example = statement(first, cfg.policy, sponsored.tolist())
    ocfg = cfg.objective_config()
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


__all__ = ["LEVEL", "SECTIONS", "AuditResults", "ModelCard", "ReportConfig", "Section",
           "bootstrap_mean", "build_report", "jsonable", "markdown_table", "protocol_figures",
           "run_audits", "sample_users", "source_slot_shares"]
