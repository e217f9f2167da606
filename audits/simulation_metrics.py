"""What a feedback-loop simulation measures each round, and intervals over seeds.

Each figure is a small numpy function of one round's shown lists (``(n_users,
k)`` dense item indices, -1 for an empty slot), picks and planted truth, so it
can be checked by hand on tiny inputs. The exposure figures reuse
:mod:`recengine.list_metrics`, so "Gini" or "coverage" means here what it
means on every other audit page.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy import stats

from recengine.list_metrics import catalogue_coverage, exposure_counts, gini

#: every per-round figure, in words (the page's chart titles, the CLI's table)
MEASURES = {
    "gini": "exposure Gini (0: every item shown equally often)",
    "coverage": "catalogue coverage (share of items shown to anyone)",
    "flagged_share": "flagged share of exposure (shown slots holding a labelled item)",
    "exploit_share": "advertiser 0's share of the advertisers' traffic (sponsored slots; "
                     "exploitative when planted)",
    "utility": "mean true satisfaction of what users chose (planted stars)",
    "homogenisation": "homogenisation (mean Jaccard of users' consumed sets)",
    "ild": "intra-list diversity (1 - mean cosine of planted item factors)",
}
#: what the business sees each round, per simulated user (the objectives' own terms)
OUTCOMES = {
    "picks": "picks per user",
    "liked": "liked picks per user (rated 4 or more)",
    "mean_rating": "mean rating users gave their picks",
    "minutes": "watch minutes per user",
    "revenue": "revenue per user (price x margin + bid of each pick)",
    "exploit_clicks": "advertiser 0's share of the picks of sponsored items",
    "exploit_bid": "advertiser 0's bid per click",
}


def rows(lists: np.ndarray) -> list[np.ndarray]:
    """Each user's list without its empty (-1) slots."""
    return [r[r >= 0] for r in np.asarray(lists, np.int64)]


def exposure_gini(lists: np.ndarray, n_items: int) -> float:
    """Gini of how often each catalogue item was shown (unshown items count as 0)."""
    return gini(exposure_counts(rows(lists), n_items))


def coverage(lists: np.ndarray, n_items: int) -> float:
    """Share of the catalogue shown to at least one user."""
    return catalogue_coverage(rows(lists), n_items)


def slot_share(lists: np.ndarray, mask: np.ndarray, among: np.ndarray | None = None
               ) -> float:
    """Share of filled slots whose item is in ``mask`` (nan when no slot counts).

    ``among`` restricts the count to slots holding items in it (e.g. sponsored
    items: an advertiser's share of the advertisers' traffic).
    """
    shown = np.asarray(lists, np.int64)
    shown = shown[shown >= 0]
    if among is not None:
        shown = shown[np.asarray(among, bool)[shown]]
    return float(np.asarray(mask, bool)[shown].mean()) if len(shown) else float("nan")


def pick_share(picked: np.ndarray, mask: np.ndarray, among: np.ndarray | None = None
               ) -> float:
    """Share of this round's picks (-1: none) whose item is in ``mask``.

    ``among`` restricts the count to picks of items in it (e.g. sponsored items:
    an advertiser's share of the advertisers' traffic); nan when no pick counts.
    """
    picked = np.asarray(picked, np.int64)
    picked = picked[picked >= 0]
    if among is not None:
        picked = picked[np.asarray(among, bool)[picked]]
    return float(np.asarray(mask, bool)[picked].mean()) if len(picked) else float("nan")


def homogenisation(consumed: sp.spmatrix) -> float:
    """Mean Jaccard index of every pair of users' consumed sets (Chaney et al. 2018).

    ``consumed`` is a (n_users, n_items) 0/1 matrix. Pairs where both users
    consumed nothing have no Jaccard index and are left out; nan when no pair
    has one.
    """
    x = sp.csr_matrix(consumed, dtype=np.float64)
    x.data[:] = 1.0
    size = np.asarray(x.sum(axis=1)).ravel()
    inter = (x @ x.T).toarray()
    union = size[:, None] + size[None, :] - inter
    iu = np.triu_indices(len(size), k=1)
    union, inter = union[iu], inter[iu]
    ok = union > 0
    return float((inter[ok] / union[ok]).mean()) if ok.any() else float("nan")


def mean_ild(lists: np.ndarray, factors: np.ndarray) -> float:
    """Mean over lists of ``1 - mean pairwise cosine`` of the items' planted factors."""
    v = np.asarray(factors, np.float64)
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    out = []
    for r in rows(lists):
        if len(r) >= 2:
            sims = v[r] @ v[r].T
            out.append(1.0 - sims[np.triu_indices(len(r), k=1)].mean())
    return float(np.mean(out)) if out else float("nan")


def interval(values, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): Student-t interval of the mean over seeds (nan-free values).

    Seeds are few (3-10), so the t quantile rather than 1.96; one value gives
    a zero-width interval, none gives nans.
    """
    x = np.asarray([v for v in values if np.isfinite(v)], np.float64)
    if not len(x):
        return float("nan"), float("nan"), float("nan")
    mean = float(x.mean())
    if len(x) < 2:
        return mean, mean, mean
    half = float(stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return mean, mean - half, mean + half
