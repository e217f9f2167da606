"""One request's candidates, scored once: what every ordering rule ranks.

Retrieval and the content policy do not depend on the objective, so the engine
builds a :class:`Candidates` once per request (the user's vector and bias, the
surviving items with their sources, the predicted ratings, the ranking stage's
features and the served score) and every objective, the served one and the
alternatives the audits compare with it, orders that same object. That is what
makes "the audited list is the served list" true by construction rather than
by a second implementation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .new_user_prior import VisitorBlend
from .results import PolicyAction, SourceHit
from .retrieval import Retrieved


@dataclass
class Candidates:
    """A user's (or visitor's) candidates after retrieval and policy, with their figures.

    Arrays are parallel to ``items`` (dense item indices, retrieval order).
    ``served`` is the score the served order sorts by: the learned ranking
    stage's logit, or ``dots`` when the model has no stage.
    """

    user_idx: int | None  # None for a visitor
    v_u: np.ndarray
    user_bias: float
    items: np.ndarray
    hits: list[list[SourceHit]]
    demoted: np.ndarray  # bool: a policy rule moved the item below every other
    demoted_by: dict[int, str]  # dense item index -> rule
    actions: list[PolicyAction]  # every candidate the policy caught, with its rule
    dots: np.ndarray  # v_u · v_m
    ratings: np.ndarray  # predicted ratings, bias terms included
    served: np.ndarray
    features: np.ndarray | None  # the ranking stage's inputs (None without a stage)
    retrieved: Retrieved
    notes: list[str] = field(default_factory=list)
    #: a visitor's popularity-prior blend (recengine.new_user_prior); None for known users
    blend: VisitorBlend | None = None

    def __len__(self) -> int:
        return len(self.items)

    def position(self, item_idx: int) -> int:
        """Where a dense item index sits in ``items`` (ValueError if absent)."""
        hit = np.flatnonzero(self.items == int(item_idx))
        if not len(hit):
            raise ValueError(f"item {item_idx} is not among the candidates")
        return int(hit[0])
