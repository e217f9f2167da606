"""Which retrieval sources fill the shown slots: counts per block, shares on the driver.

The served list of a known user is :meth:`Engine.recommend`'s: the request's
candidates (:meth:`Engine.candidates_at`, the same ``_known_user_candidates``
path ``recommend`` takes) ranked by :func:`~recengine.ranking.rank_candidates`
(``recommend`` ranks with the same ``rank_order`` of the same scores), each
shown item carrying the sources that proposed it (``cands.hits``). So the
shares are counted from the audits' candidate pool (:mod:`audits.objectives`),
which ``python -m audits batch`` has already built for each block: nothing is
retrieved a second time, and ``tests/test_batch.py`` checks item by item that
these lists and sources are ``recommend``'s for every user, with and without a
policy and under another ordering.

Apart from :mod:`audits.report` because that module imports the feedback-loop
simulation (and with it Keras), which a batch worker must not load.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recengine.engine import Engine
from recengine.policy import ContentPolicy
from recengine.ranking import Objective, rank_candidates
from recengine.subject import Subject

from .objectives import CandidatePool, candidate_pool


@dataclass
class SourceParts:
    """A block of users' counts: shown slots, those from several sources, slots per source.

    ``counts`` starts with the engine's configured sources (0 when unused) and
    adds any other in the order first met, so merged blocks keep one pass's order.
    """

    users: int
    k: int
    slots: int
    several: int
    counts: dict[str, int]


def source_parts(engine: Engine, pool: CandidatePool, k: int,
                 objective: Objective | None = None) -> SourceParts:
    """Count the sources of each pool user's top ``k`` (``objective``; None: served)."""
    objective = objective or engine.served_objective
    counts: dict[str, int] = {s: 0 for s in engine.config.retrieval.sources}
    slots = several = 0
    for cands in pool.candidates:
        for pos in rank_candidates(cands, k, objective).tolist():
            found = {h.source for h in cands.hits[pos]}
            slots += 1
            several += len(found) > 1
            for s in sorted(found):
                counts[s] = counts.get(s, 0) + 1
    return SourceParts(len(pool.candidates), int(k), slots, several, counts)


def merge_source_parts(parts: list[SourceParts]) -> SourceParts:
    """Blocks' counts, in user order, as one block's."""
    if not parts:
        raise ValueError("no blocks to merge")
    counts: dict[str, int] = {}
    for p in parts:
        for s, n in p.counts.items():
            counts[s] = counts.get(s, 0) + n
    return SourceParts(sum(p.users for p in parts), parts[0].k, sum(p.slots for p in parts),
                       sum(p.several for p in parts), counts)


def summarise_sources(parts: SourceParts) -> dict:
    """Share of shown slots with at least one hit from each source, most used first.

    An item found by several sources counts for each, so the shares can sum to
    more than 1; ``several_sources_share`` is the share of slots with more than one.
    """
    slots = parts.slots
    rows = [{"source": s, "slots": n, "share": n / slots if slots else float("nan")}
            for s, n in sorted(parts.counts.items(), key=lambda kv: -kv[1])]
    return {"users": parts.users, "k": parts.k, "slots": slots,
            "several_sources_share": parts.several / slots if slots else float("nan"),
            "sources": rows}


def source_slot_shares(subject: Subject, users, k: int, policy: ContentPolicy | None = None,
                       objective: Objective | None = None,
                       pool: CandidatePool | None = None) -> dict:
    """Share of shown slots with at least one hit from each retrieval source.

    Over the served engine's top ``k`` (what :meth:`Engine.recommend` serves
    under ``policy`` and ``objective``) for ``users`` (dense indices). ``pool``,
    when the caller has built it (the same users under the same policy), saves
    retrieving them again. :func:`source_parts`, then :func:`summarise_sources`:
    the two steps the batch audit runs over blocks of every user.
    """
    engine = subject.served
    if pool is None:
        pool = candidate_pool(engine, np.asarray(users, np.int64), policy)
    return summarise_sources(source_parts(engine, pool, k, objective))
