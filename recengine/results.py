"""The recommendation result: what the app and the audits read, never recompute.

Every returned item carries all the sources that found it (provenance), its raw
score and predicted rating; every candidate the content policy removed or
demoted is kept with the rule that caught it; ``stage_counts`` is the funnel.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pandas as pd


@dataclass(slots=True)
class SourceHit:
    """One source's claim about one candidate.

    Not frozen: a frozen dataclass's ``__init__`` sets each field through
    ``object.__setattr__``, several times the cost of a slotted one, and retrieval makes
    hundreds per request. Nothing mutates a hit once made (its ``detail`` dict
    was never frozen either).

    ``source`` is ``"similar"``, ``"genre"``, ``"region"`` or a plugged-in name.
    ``detail`` holds the evidence: similar -> ``seed_item_id``, ``seed_title``,
    ``distance``; genre -> ``genre``, ``rank``; region -> ``region``, ``rank``.
    """

    source: str
    detail: dict

    def describe(self) -> str:
        """Plain words for a badge ("because you watched X")."""
        d = self.detail
        if self.source == "similar":
            return f"because you watched {d.get('seed_title', d.get('seed_item_id'))}"
        if self.source == "genre":
            return f"top {d.get('rank')} in your genre {d.get('genre')}"
        if self.source == "cowatched":
            return f"often watched with {d.get('seed_title', d.get('seed_item_id'))}"
        if self.source == "item_model":
            return ("often liked by people who liked "
                    f"{d.get('seed_title') or d.get('seed_item_id') or 'what you watched'}")
        if self.source == "overall":
            return f"popular overall (#{d.get('rank')})"
        if self.source == "region":
            return f"popular in region {d.get('region')} (#{d.get('rank')})"
        return f"{self.source}: {d}"


@dataclass(frozen=True)
class PolicyAction:
    """What the content policy did to one candidate, and which rule did it."""

    item_id: int
    title: str
    action: str  # "removed" or "demoted"
    rule: str  # e.g. "label:graphic_violence", "genre:Horror", "keyword:scam", "item:42"


@dataclass
class RankedItem:
    rank: int
    item_id: int
    title: str
    genres: str
    score: float  # the score that placed it: see RecommendationResult.score_meaning
    predicted_rating: float  # in rating units, the rating head's bias terms included
    sources: list[SourceHit]
    demoted_by: str | None = None
    #: served by the learned ranking stage: each feature's exact part of ``score``
    #: (weight x standardised value); with the result's ``intercept`` they sum to it
    contributions: dict[str, float] | None = None


@dataclass
class RecommendationResult:
    user_id: int | None  # None for a new visitor
    items: list[RankedItem]
    filtered: list[PolicyAction]
    #: funnel: "source:similar", "source:genre", "source:region", "merged",
    #: "after_watched", "after_policy", "returned"
    stage_counts: dict[str, int]
    #: sources skipped and why, e.g. {"region": "the data has no user location"}
    skipped_sources: dict[str, str] = field(default_factory=dict)
    #: plain-language notes, e.g. "no history: genre and region sources only"
    notes: list[str] = field(default_factory=list)
    #: "served" (the order users get) or the alternative objective that ordered it
    objective: str = "served"
    #: the ordering rule in plain words, e.g. "Ordered by the learned ranking stage ..."
    ordering_rule: str = ""
    #: what each item's ``score`` means, e.g. "predicted rating"
    score_meaning: str = ""
    #: the ranking stage's intercept when ``contributions`` are given
    intercept: float | None = None
    #: the policy actions that took an item out of the slots this list would have shown
    displaced: list[PolicyAction] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """One row per returned item with provenance as text: the CSV download."""
        rows = []
        for it in self.items:
            rows.append({
                "rank": it.rank, "item_id": it.item_id, "title": it.title,
                "genres": it.genres, "predicted_rating": round(it.predicted_rating, 3),
                "score": round(it.score, 5), "score_meaning": self.score_meaning,
                "sources": "|".join(sorted({h.source for h in it.sources})),
                "why": "; ".join(h.describe() for h in it.sources),
                "demoted_by": it.demoted_by or "",
            })
        return pd.DataFrame(rows, columns=["rank", "item_id", "title", "genres",
                                           "predicted_rating", "score", "score_meaning",
                                           "sources", "why", "demoted_by"])

    def to_dict(self) -> dict:
        return asdict(self)
