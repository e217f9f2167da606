"""The world a feedback-loop simulation plays against: planted tastes, choices, advertisers.

Why a world apart from the system: the system under study may read only what
it logged (lists shown, items chosen, ratings given), while the figures that
judge it (what users truly liked, which advertiser harms them) need the
planted truth of the synthetic data (:func:`make_synthetic_with_truth`).
Keeping the truth here, behind a small API, makes it hard for the system to
peek at it by accident.

* **Choice model** (:class:`ChoiceModel`): each round a user picks at most one
  item from the list shown, by a multinomial logit with position bias.
* **Satisfaction**: the planted expected rating of a pair, as the synthetic
  data draws ratings (quality, user bias, taste, the age x film-year term),
  minus the planted harm of an exploitative advertiser's items. The planted
  engagement boost is *not* in it: engaging is not the same as good.
* **Advertisers** (:class:`Market`): the data's sponsored items, dealt to a
  few advertisers; advertiser 0 is the exploitative one when planted (high
  margin, lower satisfaction). Bids follow profit (:meth:`Market.update_bids`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from recengine.business import BusinessAttributes, business_attributes
from recengine.config import TrainConfig
from recengine.data.sources import parse_synthetic
from recengine.data.synthetic import SyntheticConfig, SyntheticTruth, make_synthetic_with_truth
from recengine.schema import Dataset
from recengine.scoring import Scorer

#: weight of item quality in a user's pull towards an item: the synthetic data's own
#: weight of quality in popularity (``log_pop = ... + 0.8 x quality``)
QUALITY_PULL = 0.8
#: the synthetic ratings' age x film-year term (young users lean to newer films)
AGE_YEAR = 0.15


class NoGroundTruth(ValueError):
    """The data has no planted truth (not synthetic): nothing to simulate choices from."""


@dataclass(frozen=True)
class ChoiceModel:
    """How a simulated user chooses from a list: one pick or none per round.

    Multinomial logit over the shown items plus an outside option ("nothing
    this time"), with position bias as in the position-based click model
    (Craswell et al. 2008): slot ``r`` (1 = top) is examined with weight
    ``r ** -position_decay``, so an item's choice weight is
    ``exp(pull) x r ** -position_decay`` and the outside option's is
    ``exp(no_choice)``. The pull of item ``i`` for user ``u`` is
    ``taste x affinity(u, i) + 0.8 x quality_i + log(1 + boost) x flagged_i``:
    the terms that decided what users rated in the synthetic data. Harm is not
    in the pull: users cannot see it before they choose; they feel it after,
    in the satisfaction, and rate accordingly.
    """

    position_decay: float = 1.0
    no_choice: float = 1.0
    #: weight of the planted affinity (None: the data's ``affinity_strength``)
    taste: float | None = None
    #: noise of the ratings users give (None: the data's ``rating_noise``)
    rating_noise: float | None = None


@dataclass
class World:
    """Synthetic data, its planted truth and the trained model the system starts from."""

    data: Dataset
    truth: SyntheticTruth
    synthetic: SyntheticConfig
    bundle: Scorer
    train_config: TrainConfig

    def __post_init__(self) -> None:
        inter = self.data.interactions
        u, i = inter["u"].to_numpy(np.int64), inter["i"].to_numpy(np.int64)
        # the generator centres quality and taste over the rated pairs: so do we
        self._q_mean = float(self.truth.item_quality[i].mean()) if len(i) else 0.0
        self._a_mean = float(self.truth.affinity(u, i).mean()) if len(i) else 0.0
        self._age_z = (self.data.users["age"].to_numpy(float) - 35.0) / 15.0
        self._recency_z = (self.data.items["year"].to_numpy(float) - 2000.0) / 20.0
        self.business: BusinessAttributes = business_attributes(self.data)

    @classmethod
    def from_data(cls, data: Dataset, bundle: Scorer, train_config: TrainConfig) -> World:
        """The world of a synthetic data set and a model trained on it (truth regenerated)."""
        synthetic, truth = truth_for(data)
        return cls(data, truth, synthetic, bundle, train_config)

    @property
    def flagged(self) -> np.ndarray:
        return self.business.flagged

    def pull(self, u: np.ndarray, i: np.ndarray, boost: float, choice: ChoiceModel
             ) -> np.ndarray:
        """The choice model's utility of pairs (see :class:`ChoiceModel`)."""
        taste = self.synthetic.affinity_strength if choice.taste is None else choice.taste
        return (taste * self.truth.affinity(u, i) + QUALITY_PULL * self.truth.item_quality[i]
                + np.log1p(boost) * self.flagged[i])

    def satisfaction(self, u: np.ndarray, i: np.ndarray, harm: np.ndarray) -> np.ndarray:
        """Planted expected rating of pairs (stars), less the items' planted ``harm``."""
        t = self.truth
        return (3.5 + (t.item_quality[i] - self._q_mean) + t.user_bias[u]
                + self.synthetic.rating_affinity * (t.affinity(u, i) - self._a_mean)
                - AGE_YEAR * self._age_z[u] * self._recency_z[i] - harm[i])

    def satisfaction_matrix(self, users: np.ndarray, harm: np.ndarray) -> np.ndarray:
        """(len(users), n_items) satisfaction of every user with every item (float32)."""
        t = self.truth
        aff = t.user_factors[users] @ t.item_factors.T
        out = (3.5 + (t.item_quality - self._q_mean)[None, :] + t.user_bias[users][:, None]
               + self.synthetic.rating_affinity * (aff - self._a_mean)
               - AGE_YEAR * np.outer(self._age_z[users], self._recency_z) - harm[None, :])
        return out.astype(np.float32)

    def rate(self, rng: np.random.Generator, u: np.ndarray, i: np.ndarray, harm: np.ndarray,
             choice: ChoiceModel) -> np.ndarray:
        """Ratings users give what they chose: satisfaction plus noise, in half stars."""
        noise = self.synthetic.rating_noise if choice.rating_noise is None \
            else choice.rating_noise
        raw = self.satisfaction(u, i, harm) + rng.normal(0.0, noise, size=len(u))
        lo, hi = self.data.rating_scale
        return np.clip(np.round(raw * 2) / 2, lo, hi)


def choose(rng: np.random.Generator, pull: np.ndarray, choice: ChoiceModel) -> np.ndarray:
    """Slot each user picks from their list (-1: nothing), by :class:`ChoiceModel`.

    ``pull`` is (n_users, k) with NaN in empty slots. Gumbel-max sampling draws
    from the logit exactly, for all users at once.
    """
    n, k = pull.shape
    slots = np.arange(1, k + 1, dtype=np.float64)
    logits = np.where(np.isnan(pull), -np.inf, pull - choice.position_decay * np.log(slots))
    logits = np.c_[logits, np.full(n, choice.no_choice)]
    pick = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)
    return np.where(pick == k, -1, pick)


def truth_for(data: Dataset) -> tuple[SyntheticConfig, SyntheticTruth]:
    """The planted truth behind a synthetic data set, regenerated from its spec.

    Refuses (:class:`NoGroundTruth`) data that is not synthetic, or whose spec
    no longer regenerates the same rows (the fingerprints differ).
    """
    scheme, _, argument = (data.source or "").partition(":")
    if scheme != "synthetic":
        raise NoGroundTruth(f"{data.name!r} ({data.source or 'no source'}) has no planted "
                            "truth: the simulator needs synthetic data (e.g. --data synthetic)")
    cfg = parse_synthetic(argument)
    again, truth = make_synthetic_with_truth(cfg)
    if again.fingerprint != data.fingerprint:
        raise NoGroundTruth(f"{data.source} does not regenerate this data set")
    return cfg, truth


@dataclass
class Market:
    """Advertisers of the sponsored items: who owns what, bids, margins and planted harm.

    ``owner[j]`` is item ``j``'s advertiser (-1: not sponsored). Sponsored items
    are dealt round-robin, in an order drawn from ``seed``, to ``n``
    advertisers (a new deal per simulation seed, so "advertiser 0" is a random
    one and no figure rests on one lucky portfolio); each bids
    one amount per click for all its items, starting at the mean of the data's
    bids on them. When ``exploitative``, advertiser 0's items get ``margin``
    ``exploit_margin`` and satisfaction lowered by ``exploit_harm`` stars, and
    a click earns it ``exploit_markup`` times ``price x margin`` (fees and
    interest on top of the sale: the course's payday lender is the most
    profitable advertiser because it exploits).
    """

    owner: np.ndarray
    bids: np.ndarray  # (n,) per click
    margin: np.ndarray  # (n_items,) the data's, the exploitative advertiser's raised
    harm: np.ndarray  # (n_items,) stars of satisfaction taken off
    exploitative: bool
    markup: np.ndarray  # (n_items,) what a click earns the advertiser, over price x margin

    @classmethod
    def create(cls, world: World, n: int = 4, exploitative: bool = True,
               exploit_margin: float = 0.9, exploit_harm: float = 1.0,
               exploit_markup: float = 3.0, seed: int = 0) -> Market:
        biz = world.business
        sponsored = np.flatnonzero(biz.sponsored)
        rng = np.random.default_rng([world.synthetic.seed, seed, 7])
        owner = np.full(world.data.n_items, -1, np.int64)
        owner[rng.permutation(sponsored)] = np.arange(len(sponsored)) % max(n, 1)
        bids = np.array([biz.sponsored_bid[owner == a].mean() if (owner == a).any() else 0.0
                         for a in range(n)])
        margin = biz.margin.astype(float).copy()
        harm, markup = np.zeros(world.data.n_items), np.ones(world.data.n_items)
        if exploitative:
            margin[owner == 0] = exploit_margin
            harm[owner == 0] = exploit_harm
            markup[owner == 0] = exploit_markup
        return cls(owner, bids, margin, harm, exploitative, markup)

    @property
    def n(self) -> int:
        return len(self.bids)

    def value(self, world: World) -> np.ndarray:
        """What one click earns the item's advertiser: ``price x margin x markup`` (0: none)."""
        return np.where(self.owner >= 0, world.business.price * self.margin * self.markup, 0.0)

    def item_bids(self) -> np.ndarray:
        """Each item's current bid (its advertiser's; 0 when not sponsored)."""
        return np.where(self.owner >= 0, self.bids[np.maximum(self.owner, 0)], 0.0)

    def business(self, world: World) -> BusinessAttributes:
        """The data's business attributes with this market's margins and current bids."""
        return dataclasses.replace(world.business, margin=self.margin,
                                   sponsored_bid=self.item_bids())

    def update_bids(self, world: World, picked: np.ndarray, n_users: int,
                    reinvest: float, max_bid: float) -> np.ndarray:
        """Bids rise with the profit this round's traffic brought; returns each profit.

        An advertiser's profit is what its clicks earned it (:meth:`value`);
        it adds ``reinvest x profit / n_users`` to its bid (profit per simulated
        user, so the rule does not depend on how many are simulated), up to
        ``max_bid``. A business that profits more bids more, and a higher bid
        buys more traffic under the profit and blend orderings: the loop.
        """
        picked = picked[picked >= 0]
        owner = self.owner[picked]
        hit = owner >= 0
        profit = np.bincount(owner[hit], weights=self.value(world)[picked][hit],
                             minlength=self.n)
        self.bids = np.clip(self.bids + reinvest * profit / max(n_users, 1), 0.01, max_bid)
        return profit
