"""A visitor's popularity prior: from "what everyone watches" to "what you like".

Why: a visitor with three ratings gives the personal score (the ranking stage,
or ``v_u · v_m``) little to go on, and on such users popularity alone ranks as
well or better (issue 16). So a visitor's served score is a blend that moves
from the popularity list towards the personal one as ratings arrive::

    score = (1 - w) * prior + w * personal,     w = n / (n + shrink)

with ``n`` the visitor's ratings. ``prior`` is the candidates' log popularity
put on the personal score's scale over the same request (same mean and
spread), so the two halves weigh what ``w`` says and with 0 ratings the list
is the popularity order of the candidates. ``shrink`` (the number of ratings
at which both weigh half) is chosen on a validation split of train
(``bench/new_user_prior_validation.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class NewUserPriorConfig:
    #: ratings at which the personal score and the popularity prior weigh the same;
    #: 0 switches the prior off (the personal score alone, as before issue 16)
    shrink: float = 10.0

    def __post_init__(self):
        if not np.isfinite(self.shrink) or self.shrink < 0:
            raise ValueError(f"NewUserPriorConfig.shrink must be a finite number >= 0, "
                             f"got {self.shrink}")


@dataclass
class VisitorBlend:
    """How one visitor's served scores were blended (what the explanation reports)."""

    n_ratings: int
    weight: float  # w: the personal score's share; 1 - w is the popularity prior's
    prior: np.ndarray  # the prior on the personal scale, parallel to the candidates
    personal: np.ndarray  # the personal score before blending
    prior_mean: float  # the prior's constant part (mean of the personal scores)

    @property
    def prior_share(self) -> float:
        return 1.0 - self.weight

    @property
    def scores(self) -> np.ndarray:
        return self.prior_share * self.prior + self.weight * self.personal

    def note(self) -> str:
        """One line for the result: what share of each score is the popularity prior."""
        return (f"new visitor with {self.n_ratings} rating(s): each score is "
                f"{self.prior_share:.0%} popularity prior and {self.weight:.0%} personal "
                "score (the prior gives way as ratings arrive)")


def personal_weight(n_ratings: int, cfg: NewUserPriorConfig) -> float:
    """``w = n / (n + shrink)``: 0 with no ratings, towards 1 as they arrive."""
    n = max(int(n_ratings), 0)
    if cfg.shrink == 0:
        return 1.0
    return n / (n + cfg.shrink)


def popularity_on_scale(log_popularity: np.ndarray, personal: np.ndarray) -> np.ndarray:
    """Log popularity standardised, then given the personal scores' mean and spread."""
    pop = np.asarray(log_popularity, np.float64)
    personal = np.asarray(personal, np.float64)
    if not len(pop):
        return pop
    spread = float(personal.std()) if len(personal) > 1 else 0.0
    spread = spread if spread > 0 else 1.0
    pop_sd = float(pop.std())
    z = (pop - pop.mean()) / pop_sd if pop_sd > 0 else np.zeros_like(pop)
    return float(personal.mean()) + spread * z


def blend_visitor(personal: np.ndarray, log_popularity: np.ndarray, n_ratings: int,
                  cfg: NewUserPriorConfig) -> VisitorBlend:
    """The blend for one visitor's candidates (arrays parallel to the candidates)."""
    personal = np.asarray(personal, np.float64)
    prior = popularity_on_scale(log_popularity, personal)
    mean = float(personal.mean()) if len(personal) else 0.0
    return VisitorBlend(int(n_ratings), personal_weight(n_ratings, cfg), prior, personal, mean)


__all__ = ["NewUserPriorConfig", "VisitorBlend", "blend_visitor", "personal_weight",
           "popularity_on_scale"]
