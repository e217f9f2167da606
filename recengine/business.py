"""Business attributes of each item: from the data when it has them, simulated when not.

The business objectives, the content policy and the audits need a price, a
margin, an advertiser's bid, expected watch minutes and content labels for every
item. The synthetic data plants them (and marks them simulated); MovieLens has
none. Rather than refuse, each missing column is simulated by a fixed, seeded
rule, independent of the ratings (so nothing leaks from the test split), and
attached to the data set **once** (:func:`attach_business`, called by every
loader and by :meth:`recengine.engine.Engine.build`), marked simulated. So the
policy filters the very labels the audits count: there is one set of labels.

Simulation rules (one seeded generator per column, so adding one column to the
data never changes the simulation of another):

* ``price``: the synthetic loader's price points (0.99 ... 19.99), newer films
  dearer: index ``round(6 * (year - 1920) / 104 + N(0, 1.2))`` clipped to 0..8.
* ``sponsored_bid``: a random 5% of items get a bid uniform in 0.20..2.00,
  the rest 0.
* ``margin``: a share of the price; sponsored items 0.55..0.80 (the
  advertiser pays for placement on high-margin items), others Beta(2, 6) x 0.6.
* ``watch_minutes``: ``runtime`` (105 when unknown) x a completion share
  uniform in 0.55..0.95. It carries no signal about the film.
* ``labels``: each of graphic_violence, conspiracy, scam on a random 2% of
  items. Simulated labels say nothing about the films themselves: they exist
  so the content-filter mechanics can be exercised and shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .schema import BUSINESS_COLUMNS, Dataset

COLUMNS = BUSINESS_COLUMNS
SIM_LABELS = ("graphic_violence", "conspiracy", "scam")
PRICE_POINTS = np.array([0.99, 1.99, 2.99, 3.99, 4.99, 7.99, 9.99, 14.99, 19.99])
SPONSORED_SHARE = 0.05
LABEL_PREVALENCE = 0.02
DEFAULT_RUNTIME = 105.0


@dataclass
class BusinessAttributes:
    """Per-item business figures in catalogue (dense index) order.

    ``provenance`` maps each column to ``"data"``, ``"data (simulated by the
    loader)"`` or ``"simulated here: <rule>"``; :attr:`simulated` lists the
    columns whose values are not real observations, whoever simulated them.
    """

    price: np.ndarray
    margin: np.ndarray
    sponsored_bid: np.ndarray
    watch_minutes: np.ndarray
    labels: np.ndarray  # object, "|"-joined, "" when none
    provenance: dict[str, str] = field(default_factory=dict)

    @property
    def simulated(self) -> list[str]:
        return [c for c in COLUMNS if self.provenance.get(c, "data") != "data"]

    @property
    def flagged(self) -> np.ndarray:
        """Items carrying at least one content label."""
        return flagged_mask(self.labels)

    @property
    def sponsored(self) -> np.ndarray:
        return self.sponsored_bid > 0

    @property
    def unit_profit(self) -> np.ndarray:
        return unit_profit(self.price, self.margin, self.sponsored_bid)

    def frame(self) -> pd.DataFrame:
        """The columns side by side (for tables and downloads)."""
        return pd.DataFrame({"price": self.price, "margin": self.margin,
                             "sponsored_bid": self.sponsored_bid,
                             "watch_minutes": self.watch_minutes, "labels": self.labels,
                             "unit_profit": self.unit_profit})


def flagged_mask(labels) -> np.ndarray:
    """True where an item has any content label ("|"-joined text, "" for none)."""
    arr = pd.Series(np.asarray(labels, dtype=object)).fillna("").astype(str)
    return (arr.str.strip("| ").str.len() > 0).to_numpy()


def unit_profit(price, margin, sponsored_bid) -> np.ndarray:
    """Money the service makes when an item is clicked or bought: ``price x margin + bid``.

    ``margin`` is a share of the price in the data (synthetic: 0..0.8), so the
    brief's "margin + bid" is read in money units as ``price x margin`` plus the
    advertiser's per-click bid.
    """
    return (np.asarray(price, float) * np.asarray(margin, float)
            + np.asarray(sponsored_bid, float))


def _rng(seed: int, column: str) -> np.random.Generator:
    return np.random.default_rng([seed, COLUMNS.index(column)])


def simulate_column(column: str, items: pd.DataFrame, seed: int = 0,
                    sponsored: np.ndarray | None = None) -> np.ndarray:
    """One business column by the module's documented rule (see the module docstring)."""
    n = len(items)
    rng = _rng(seed, column)
    if column == "price":
        year = pd.to_numeric(items.get("year", pd.Series(np.nan, index=items.index)),
                             errors="coerce").to_numpy(float)
        year = np.where(np.isnan(year), np.nanmedian(year) if np.isfinite(year).any() else 2000,
                        year)
        ix = np.clip(np.round(6 * (year - 1920) / 104 + rng.normal(0, 1.2, n)), 0, 8)
        return PRICE_POINTS[ix.astype(int)]
    if column == "sponsored_bid":
        chosen = np.zeros(n, bool)
        chosen[rng.choice(n, size=int(round(SPONSORED_SHARE * n)), replace=False)] = True
        return np.where(chosen, np.round(rng.uniform(0.2, 2.0, n), 2), 0.0)
    if column == "margin":
        sponsored = np.zeros(n, bool) if sponsored is None else np.asarray(sponsored, bool)
        return np.round(np.where(sponsored, rng.uniform(0.55, 0.8, n),
                                 rng.beta(2, 6, n) * 0.6), 3)
    if column == "watch_minutes":
        runtime = pd.to_numeric(items.get("runtime", pd.Series(np.nan, index=items.index)),
                                errors="coerce").to_numpy(float)
        runtime = np.where(np.isnan(runtime), DEFAULT_RUNTIME, runtime)
        return np.round(runtime * rng.uniform(0.55, 0.95, n), 1)
    if column == "labels":
        flags = rng.random((n, len(SIM_LABELS))) < LABEL_PREVALENCE
        return np.array(["|".join(lab for lab, f in zip(SIM_LABELS, row, strict=True) if f)
                         for row in flags], dtype=object)
    raise ValueError(f"unknown business column {column!r}; known: {COLUMNS}")


_RULES = {
    "price": "price points 0.99-19.99, newer films dearer (seeded)",
    "sponsored_bid": "a random 5% of items bid 0.20-2.00 (seeded)",
    "margin": "sponsored 0.55-0.80, others Beta(2,6) x 0.6 (seeded)",
    "watch_minutes": "runtime x a random completion share 0.55-0.95 (seeded)",
    "labels": "each label on a random 2% of items; says nothing about the film (seeded)",
}


#: the order columns are simulated in (margin depends on the bid)
_ORDER = ("price", "sponsored_bid", "margin", "watch_minutes", "labels")


def attach_business(data: Dataset, seed: int = 0) -> Dataset:
    """``data`` with every missing business column simulated, marked, and explained.

    Idempotent: a data set that has every column (the synthetic one, or one
    already attached) comes back as the same object. Added columns join
    ``Dataset.simulated`` as ``items.<column>`` and ``Dataset.provenance`` gets
    the rule that made them, so every page and report can say "simulated".
    """
    missing = [c for c in _ORDER if not data.has_column("items", c)]
    if not missing:
        return data
    items = data.items.copy()
    provenance = dict(data.provenance)
    for column in missing:
        sponsored = (pd.to_numeric(items["sponsored_bid"], errors="coerce").fillna(0) > 0
                     ).to_numpy() if column == "margin" else None
        items[column] = simulate_column(column, items, seed, sponsored)
        provenance[f"items.{column}"] = f"simulated here: {_RULES[column]}"
    return data.replace_items(items, simulated={f"items.{c}" for c in missing},
                              provenance=provenance)


def business_attributes(data: Dataset) -> BusinessAttributes:
    """The business columns of ``data`` (attached first when missing) as arrays.

    Missing values inside a column are read conservatively: no bid (0), no
    label (""), the column's median for price, margin and minutes.
    """
    data = attach_business(data)
    items = data.items
    out: dict[str, np.ndarray] = {}
    provenance: dict[str, str] = {}
    for column in _ORDER:
        values = items[column]
        if column == "labels":
            values = values.fillna("").astype(str).to_numpy(dtype=object)
        elif column == "sponsored_bid":
            values = pd.to_numeric(values, errors="coerce").fillna(0.0).to_numpy(float)
        else:
            num = pd.to_numeric(values, errors="coerce")
            values = num.fillna(num.median()).to_numpy(float)
        out[column] = values
        key = f"items.{column}"
        provenance[column] = data.provenance.get(
            key, "data (simulated by the loader)" if key in data.simulated else "data")
    return BusinessAttributes(out["price"], out["margin"], out["sponsored_bid"],
                              out["watch_minutes"], out["labels"], provenance)
