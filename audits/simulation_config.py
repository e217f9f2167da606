"""The settings of one feedback-loop simulation: loops, mitigations, what the system learns.

A frozen dataclass of plain values, so a page can cache results by it and a
JSON file can record exactly what produced its figures. Kept apart from the
simulation itself so the CLI can parse options without loading Keras.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from recengine.objectives import BASE_OBJECTIVES, DEFAULT_BLEND, OBJECTIVES

from .simulation_world import ChoiceModel

#: the mitigations, each switchable, in words
MITIGATIONS = {
    "refuse": "refuse exploitative advertisers (mean logged rating of their picks too low)",
    "filter": "filter problematic content (the content policy removes every labelled item)",
    "diversity": "diversify each list (MMR re-rank over the model's item vectors)",
    "exploration": "explore (a share of each list's slots go to random candidates)",
}


@dataclass(frozen=True)
class SimulationConfig:
    """One simulated run: rounds, the objective, the loops, the mitigations, the learning.

    What is planted (the world) and what loops (the system) are switched
    apart, so a loop can run where nothing is planted (the false-alarm check).
    Loop 1, bids -> traffic -> bids: ``bid_loop`` lets advertisers move their
    bid with the profit their traffic brought (:meth:`Market.update_bids`);
    ``exploitative`` plants advertiser 0 as exploitative. Loop 2, engagement ->
    exposure: ``engagement_loop`` lets the system's engagement estimate learn
    from what it showed; ``boost`` is how much more flagged items pull users
    (None: the data's planted ``harm_engagement_boost``). Bids enter only the
    profit and blend orderings, the engagement estimate only engagement, profit
    and blend: under the served or rating order those loops have no lever.
    """

    rounds: int = 10
    k: int = 10
    #: users simulated (a seeded sample, the same for every seed); None: all
    n_users: int | None = None
    objective: str = "served"
    weights: tuple[float, float, float] = DEFAULT_BLEND
    bid_loop: bool = True
    exploitative: bool = True
    n_advertisers: int = 4
    exploit_margin: float = 0.9
    exploit_harm: float = 1.0
    #: what a click earns the exploitative advertiser, in multiples of price x margin
    exploit_markup: float = 3.0
    #: share of each round's profit (per simulated user) an advertiser adds to its bid
    reinvest: float = 1.0
    max_bid: float = 20.0
    engagement_loop: bool = True
    boost: float | None = None
    #: pseudo-impressions at the mean pick rate pulling each engagement estimate to 1
    engagement_prior: float = 50.0
    refuse_exploitative: bool = False
    #: refuse an advertiser whose picks are rated this many stars below the mean pick
    refuse_margin: float = 0.5
    refuse_min_ratings: int = 10
    content_filter: bool = False
    diversity: float = 0.0
    exploration: float = 0.0
    #: update the statistics every round (False: a frozen system, for comparison)
    statistics: bool = True
    #: retrain towers and ranking stage from scratch every this many rounds (0: never)
    retrain_every: int = 0
    choice: ChoiceModel = field(default_factory=ChoiceModel)

    def __post_init__(self) -> None:
        if self.rounds < 1 or self.k < 1:
            raise ValueError(f"rounds and k must be at least 1, got {self.rounds}, {self.k}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {self.objective!r}; use one of {OBJECTIVES}")
        for name in ("diversity", "exploration"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.retrain_every < 0 or self.n_advertisers < 1:
            raise ValueError("retrain_every must be >= 0 and n_advertisers >= 1")
        object.__setattr__(self, "weights", tuple(float(w) for w in self.weights))

    @property
    def weight_map(self) -> dict[str, float]:
        return dict(zip(BASE_OBJECTIVES, self.weights, strict=True))

    @property
    def mitigations(self) -> list[str]:
        """The mitigations this run uses (keys of :data:`MITIGATIONS`)."""
        on = {"refuse": self.refuse_exploitative, "filter": self.content_filter,
              "diversity": self.diversity > 0, "exploration": self.exploration > 0}
        return [m for m in MITIGATIONS if on[m]]

    def unmitigated(self) -> SimulationConfig:
        """The same run with every mitigation off."""
        return dataclasses.replace(self, refuse_exploitative=False, content_filter=False,
                                   diversity=0.0, exploration=0.0)

    def only(self, mitigation: str) -> SimulationConfig:
        """The same run with just one of its mitigations on."""
        base = self.unmitigated()
        if mitigation == "refuse":
            return dataclasses.replace(base, refuse_exploitative=True)
        if mitigation == "filter":
            return dataclasses.replace(base, content_filter=True)
        if mitigation in ("diversity", "exploration"):
            return dataclasses.replace(base, **{mitigation: getattr(self, mitigation)})
        raise ValueError(f"unknown mitigation {mitigation!r}; use one of {list(MITIGATIONS)}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
