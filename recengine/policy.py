"""The content policy: what the service refuses to recommend, and says so.

The course's amelioration for engagement-driven harm is to filter problematic
content, while admitting the definitions are tricky. So every rule is explicit
("label:graphic_violence"), applied after retrieval and before ranking, and every
item it removes or demotes is kept in the result with the rule that caught it:
the filter is auditable rather than silent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .results import PolicyAction
from .retrieval import Catalogue, joined_tokens

KINDS = ("label", "genre", "keyword", "item")
ACTIONS = ("remove", "demote")


@dataclass(frozen=True)
class PolicyRule:
    """One rule: ``kind`` is label, genre, keyword (title and tags) or item (an id)."""

    kind: str
    value: str | int
    action: str = "remove"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown policy rule kind {self.kind!r}: use one of {KINDS}")
        if self.action not in ACTIONS:
            raise ValueError(f"unknown policy action {self.action!r}: use one of {ACTIONS}")

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.value}"

    def matches(self, catalogue: Catalogue, j: int) -> bool:
        if self.kind == "item":
            return int(catalogue.item_ids[j]) == int(self.value)
        value = str(self.value).lower()
        if self.kind == "label":
            return value in joined_tokens(catalogue.labels[j])
        if self.kind == "genre":
            return value in joined_tokens(catalogue.genres[j])
        return value in catalogue.titles[j].lower() or value in catalogue.tags[j].lower()

    def match_mask(self, catalogue: Catalogue, items: np.ndarray) -> np.ndarray:
        """:meth:`matches` for every item index in ``items`` at once (a bool array).

        Labels and genres are looked up in the catalogue's token masks (built
        once per catalogue), so a request pays one gather per rule, not a string
        split per candidate; keywords and ids are checked on the candidates only.
        """
        items = np.asarray(items, dtype=np.int64)
        if self.kind == "item":
            return catalogue.item_ids[items] == int(self.value)
        if self.kind in ("label", "genre"):
            column = "labels" if self.kind == "label" else "genres"
            return catalogue.token_mask(column, str(self.value))[items]
        return np.fromiter((self.matches(catalogue, j) for j in items.tolist()),
                           dtype=bool, count=len(items))


@dataclass
class ContentPolicy:
    """Blocked labels, genres, keywords and item ids, plus any explicit rules.

    The ``blocked_*`` lists all take ``action``; ``rules`` can mix actions, e.g.
    ``PolicyRule("genre", "Horror", "demote")``. When several rules match an item,
    removal wins over demotion and the first matching rule is the one reported.
    """

    blocked_labels: tuple[str, ...] = ()
    blocked_genres: tuple[str, ...] = ()
    blocked_keywords: tuple[str, ...] = ()
    blocked_item_ids: tuple[int, ...] = ()
    action: str = "remove"
    rules: tuple[PolicyRule, ...] = field(default_factory=tuple)

    def all_rules(self) -> list[PolicyRule]:
        listed = ([PolicyRule("label", v, self.action) for v in self.blocked_labels]
                  + [PolicyRule("genre", v, self.action) for v in self.blocked_genres]
                  + [PolicyRule("keyword", v, self.action) for v in self.blocked_keywords]
                  + [PolicyRule("item", int(v), self.action) for v in self.blocked_item_ids])
        return listed + list(self.rules)

    @property
    def is_empty(self) -> bool:
        return not self.all_rules()

    def verdicts(self, catalogue: Catalogue, items: np.ndarray,
                 rules: list[PolicyRule] | None = None) -> list[PolicyRule | None]:
        """The rule that applies to each item of ``items`` (removal first), or None.

        The one place the policy's precedence lives: of the matching rules, the
        first removing one, else the first one. Rules are judged on every item at
        once (:meth:`PolicyRule.match_mask`).
        """
        rules = self.all_rules() if rules is None else rules
        items = np.asarray(items, dtype=np.int64)
        out: list[PolicyRule | None] = [None] * len(items)
        if not rules or not len(items):
            return out
        hits = np.stack([r.match_mask(catalogue, items) for r in rules])  # (rules, items)
        removing = np.array([r.action == "remove" for r in rules])[:, None]
        first = np.where((hits & removing).any(axis=0), np.argmax(hits & removing, axis=0),
                         np.argmax(hits, axis=0))
        for pos in np.flatnonzero(hits.any(axis=0)).tolist():
            out[pos] = rules[int(first[pos])]
        return out

    def verdict(self, catalogue: Catalogue, j: int,
                rules: list[PolicyRule] | None = None) -> PolicyRule | None:
        """The rule that applies to item ``j`` (removal first), or None."""
        return self.verdicts(catalogue, np.array([j]), rules)[0]

    def apply(self, catalogue: Catalogue, items: np.ndarray
              ) -> tuple[np.ndarray, dict[int, str], list[PolicyAction]]:
        """Split candidates into kept ones, demoted ones (item -> rule) and the actions.

        Returns ``keep`` (a bool mask over ``items``), ``demoted`` and every action.
        """
        keep = np.ones(len(items), dtype=bool)
        demoted: dict[int, str] = {}
        actions: list[PolicyAction] = []
        for pos, (j, rule) in enumerate(zip(np.asarray(items).tolist(),
                                            self.verdicts(catalogue, items), strict=True)):
            if rule is None:
                continue
            verb = "removed" if rule.action == "remove" else "demoted"
            actions.append(PolicyAction(int(catalogue.item_ids[j]), catalogue.titles[j], verb,
                                        rule.name))
            if rule.action == "remove":
                keep[pos] = False
            else:
                demoted[j] = rule.name
        return keep, demoted, actions

    def describe(self) -> str:
        """The policy in plain words, for the app and the result page."""
        rules = self.all_rules()
        if not rules:
            return "No content policy: nothing is filtered."
        phrases = {"label": "labelled {}", "genre": "in the genre {}",
                   "keyword": "whose title or tags mention \"{}\"", "item": "with id {}"}
        parts = []
        for action in ACTIONS:
            chosen = [phrases[r.kind].format(r.value) for r in rules if r.action == action]
            if chosen:
                verb = ("Removes items " if action == "remove"
                        else "Moves to the bottom of the list items ")
                parts.append(verb + "; ".join(chosen) + ".")
        return " ".join(parts)

