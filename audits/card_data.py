"""What the model card is made of: its settings and every figure, computed once.

Apart from :mod:`audits.report` (which runs the audits) and
:mod:`audits.card_sections` (which words them) so both can import it and
neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recengine.objectives import DEFAULT_WEIGHTS, OBJECTIVES, SERVED, normalise_weights
from recengine.policy import ContentPolicy
from recengine.ranking import Objective
from recengine.subject import Subject

from .bias import BiasAudit, BiasAuditConfig
from .content_filter import ContentFilterAudit
from .objectives import ObjectiveAudit, ObjectiveAuditConfig


@dataclass
class ReportConfig:
    """What the card covers; defaults keep it to seconds on the demo data."""

    n_users: int = 200
    k: int = 10
    seed: int = 0
    objective: str = SERVED  # the ordering the card describes users getting
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    policy: ContentPolicy = field(default_factory=ContentPolicy)
    include_protocol: bool = True
    n_boot: int = 500
    tradeoff_steps: int = 5
    #: feedback-loop rounds simulated for the card (0: not run; needs planted truth)
    simulate_rounds: int = 0
    simulate_seeds: int = 2

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {self.objective!r}; use one of {OBJECTIVES}")
        normalise_weights(self.weights)  # refuses unknown, negative or all-zero weights
        for name in ("n_users", "k", "n_boot"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")

    @property
    def policy_or_none(self) -> ContentPolicy | None:
        return None if self.policy.is_empty else self.policy

    def objective_config(self) -> ObjectiveAuditConfig:
        return ObjectiveAuditConfig(n_users=self.n_users, k=self.k, seed=self.seed,
                                    weights=dict(self.weights))

    def bias_config(self) -> BiasAuditConfig:
        return BiasAuditConfig(n_users=self.n_users, k=self.k, seed=self.seed,
                               n_boot=self.n_boot)


@dataclass
class AuditResults:
    """Every figure the card shows, computed once on one subject."""

    subject: Subject
    config: ReportConfig
    active: Objective  # the ordering the card describes
    users: np.ndarray  # dense indices of the sampled users (every audit's sample)
    sources: dict  # share of shown slots by retrieval source
    example: str  # what the first sampled user is told about their list
    objectives: ObjectiveAudit
    tradeoff: pd.DataFrame
    content: ContentFilterAudit
    content_policy: ContentPolicy  # the policy the content section compares
    every_label: bool  # True: the report's policy is empty, every label blocked instead
    bias: BiasAudit
    protocol: dict | None  # run_protocol's result (pipeline + baselines)
    uncertainty: dict | None  # bootstrap intervals on the pipeline's Recall/NDCG
    #: the feedback-loop study's plain-words summary and settings (None: not run)
    simulation: dict | None = None
