"""What simulated runs hold and how a study of several reads: per-round intervals, changes.

Apart from :mod:`audits.simulation` (which runs rounds) so the summary, the
page and the tests can read results, or build them by hand, without the
machinery that produces them. Intervals are over seeds
(:func:`~audits.simulation_metrics.interval`); every figure is simulated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from .simulation_config import SimulationConfig
from .simulation_metrics import MEASURES, OUTCOMES, interval


@dataclass
class Run:
    """One simulated run: its settings, figures per round and what the system learned."""

    arm: str
    seed: int
    config: SimulationConfig
    figures: list[dict]  # one per round: round, every MEASURES and OUTCOMES key
    learned: list[str]
    refused: dict[int, int] = field(default_factory=dict)
    retrains: int = 0
    seconds: float = 0.0



@dataclass(frozen=True)
class Change:
    """A difference over seeds (e.g. last round minus first) with its 95% interval."""

    mean: float
    low: float
    high: float
    n: int

    @property
    def sign(self) -> int:
        """+1 / -1 when the interval lies wholly above / below 0, else 0 (no effect shown)."""
        return 1 if self.low > 0 else -1 if self.high < 0 else 0

    def to_dict(self) -> dict:
        return {"mean": self.mean, "low": self.low, "high": self.high, "n": self.n,
                "sign": self.sign}


@dataclass
class Study:
    """Runs of several arms over the same seeds, with per-round intervals."""

    runs: list[Run]

    @property
    def arms(self) -> list[str]:
        return list(dict.fromkeys(r.arm for r in self.runs))

    def run(self, arm: str) -> Run:
        return next(r for r in self.runs if r.arm == arm)

    def frame(self) -> pd.DataFrame:
        """One row per arm, seed and round; a column per figure."""
        return pd.DataFrame([{"arm": r.arm, "seed": r.seed, **f} for r in self.runs
                             for f in r.figures])

    def bands(self) -> pd.DataFrame:
        """Per arm, round and figure: mean over seeds with its 95% interval."""
        rows = []
        for (arm, t), g in self.frame().groupby(["arm", "round"], sort=False):
            for name in (*MEASURES, *OUTCOMES):
                mean, low, high = interval(g[name].to_numpy(float))
                rows.append({"arm": arm, "round": t, "measure": name, "mean": mean,
                             "low": low, "high": high})
        return pd.DataFrame(rows)

    def per_seed(self, arm: str, measure: str, rounds: Sequence[int] | None = None
                 ) -> pd.Series:
        """Each seed's mean of a figure over ``rounds`` (default all) in one arm."""
        f = self.frame()
        f = f[f["arm"] == arm]
        if rounds is not None:
            f = f[f["round"].isin(list(rounds))]
        return f.groupby("seed")[measure].mean()

    def change(self, arm: str, measure: str) -> Change:
        """Last round minus first, per seed, with the interval over seeds."""
        last = int(self.frame()["round"].max())
        d = self.per_seed(arm, measure, [last]) - self.per_seed(arm, measure, [1])
        return Change(*interval(d.to_numpy(float)), int(d.notna().sum()))

    def gap(self, arm: str, other: str, measure: str, rounds: Sequence[int] | None = None
            ) -> Change:
        """``arm`` minus ``other`` per seed (paired) over ``rounds``, with its interval."""
        d = (self.per_seed(arm, measure, rounds) - self.per_seed(other, measure, rounds))
        return Change(*interval(d.dropna().to_numpy(float)), int(d.notna().sum()))

    def to_dict(self) -> dict:
        """Everything as JSON-ready data; every figure in it is simulated."""
        bands = self.bands()
        return {"simulated": True,
                "arms": {a: {"config": self.run(a).config.to_dict(),
                             "learned": self.run(a).learned,
                             "seconds": [r.seconds for r in self.runs if r.arm == a],
                             "refused_advertisers": [r.refused for r in self.runs
                                                     if r.arm == a],
                             "retrains": self.run(a).retrains} for a in self.arms},
                "seeds": sorted({r.seed for r in self.runs}),
                "rounds": bands.to_dict(orient="records"),
                "per_seed": self.frame().to_dict(orient="records")}
