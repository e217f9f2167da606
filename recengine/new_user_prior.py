"""A visitor's popularity prior: from "what everyone watches" to "what you like".

Why: a visitor with three ratings gives the personal score (the ranking stage,
or ``v_u · v_m``) little to go on, and on such users popularity alone ranks as
well or better (issue 16). So a visitor's served score is a blend that moves
from the popularity list towards the personal one as ratings arrive::

    score = (1 - w) * prior + w * personal,     w = n / (n + shrink)

with ``n`` the visitor's ratings. ``prior`` is the candidates' log popularity
put on the personal score's scale over the same request (same mean and
standard deviation), so the two halves weigh what ``w`` says and with 0 ratings the list
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


@dataclass(frozen=True)
class VisitorBlend:
    """One visitor's blend, as request constants (what the explanation reports).

    Constants, not arrays, so a subset of the candidates (a viewer control
    leaving some out) is blended and explained by the same numbers.
    """

    n_ratings: int
    weight: float  # w: the personal score's share; 1 - w is the popularity prior's
    centre: float  # the personal scores' mean over the request: the prior's constant
    spread: float  # their standard deviation (1 when they do not vary)
    pop_mean: float  # the candidates' mean log popularity
    pop_sd: float  # and its standard deviation (1 when it does not vary)

    @property
    def prior_share(self) -> float:
        return 1.0 - self.weight

    def prior(self, log_popularity: np.ndarray) -> np.ndarray:
        """Log popularity on the personal scale: the request's mean and spread."""
        z = (np.asarray(log_popularity, np.float64) - self.pop_mean) / self.pop_sd
        return self.centre + self.spread * z

    def apply(self, personal: np.ndarray, log_popularity: np.ndarray) -> np.ndarray:
        """``(1 - w) * prior + w * personal`` for candidates (parallel arrays)."""
        return (self.prior_share * self.prior(log_popularity)
                + self.weight * np.asarray(personal, np.float64))

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


def _mean_sd(x: np.ndarray) -> tuple[float, float]:
    if not len(x):
        return 0.0, 1.0
    sd = float(x.std())
    return float(x.mean()), sd if sd > 0 else 1.0


def blend_visitor(personal: np.ndarray, log_popularity: np.ndarray, n_ratings: int,
                  cfg: NewUserPriorConfig) -> VisitorBlend:
    """The blend constants for one visitor's candidates (arrays parallel to them)."""
    centre, spread = _mean_sd(np.asarray(personal, np.float64))
    pop_mean, pop_sd = _mean_sd(np.asarray(log_popularity, np.float64))
    return VisitorBlend(int(n_ratings), personal_weight(n_ratings, cfg), centre, spread,
                        pop_mean, pop_sd)


__all__ = ["NewUserPriorConfig", "VisitorBlend", "blend_visitor", "personal_weight"]
