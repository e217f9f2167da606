"""The content policy: explicit rules, every action kept with its rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recengine.policy import ContentPolicy, PolicyRule
from recengine.retrieval import Catalogue

CATALOGUE = Catalogue.from_items(pd.DataFrame({
    "item_id": [10, 11, 12, 13, 14],
    "title": ["Quiet Garden", "Blood Harvest", "Get Rich SCAM Quick", "Space Dogs", "Night"],
    "year": [2001.0, 2002.0, 2003.0, 2004.0, 2005.0],
    "genres": ["Drama", "Horror|Thriller", "Comedy", "Sci-Fi|Horror", "Drama"],
    "labels": ["", "graphic_violence", "", "", "Graphic_Violence|drugs"],
    "tags": ["calm", "gore", "", "Scam artists", None],
}))
ALL = np.arange(5)


def test_removed_items_are_reported_with_their_rule():
    policy = ContentPolicy(blocked_labels=("graphic_violence",))
    keep, demoted, actions = policy.apply(CATALOGUE, ALL)
    assert keep.tolist() == [True, False, True, True, False]  # label match ignores case
    assert not demoted
    assert [(a.item_id, a.action, a.rule) for a in actions] == [
        (11, "removed", "label:graphic_violence"), (14, "removed", "label:graphic_violence")]


def test_keywords_match_title_and_tags_case_insensitively():
    keep, _, actions = ContentPolicy(blocked_keywords=("scam",)).apply(CATALOGUE, ALL)
    assert CATALOGUE.item_ids[~keep].tolist() == [12, 13]
    assert {a.rule for a in actions} == {"keyword:scam"}


def test_demotion_keeps_the_item_and_removal_wins_over_it():
    policy = ContentPolicy(blocked_item_ids=(14,),
                           rules=(PolicyRule("genre", "Horror", "demote"),
                                  PolicyRule("label", "graphic_violence", "remove")))
    keep, demoted, actions = policy.apply(CATALOGUE, ALL)
    assert keep.tolist() == [True, False, True, True, False]
    assert demoted == {3: "genre:Horror"}
    assert {(a.item_id, a.action, a.rule) for a in actions} == {
        (11, "removed", "label:graphic_violence"), (13, "demoted", "genre:Horror"),
        (14, "removed", "item:14")}


def test_only_the_given_candidates_are_judged():
    keep, _, actions = ContentPolicy(blocked_genres=("Horror",)).apply(CATALOGUE,
                                                                      np.array([0, 3]))
    assert keep.tolist() == [True, False]
    assert [a.item_id for a in actions] == [13]


def test_empty_policy_keeps_everything_and_says_so():
    keep, demoted, actions = ContentPolicy().apply(CATALOGUE, ALL)
    assert keep.all() and not demoted and not actions
    assert "nothing is filtered" in ContentPolicy().describe()


def test_describe_names_every_rule_in_plain_words():
    text = ContentPolicy(blocked_labels=("graphic_violence",), blocked_keywords=("scam",),
                         rules=(PolicyRule("genre", "Horror", "demote"),)).describe()
    assert "Removes items labelled graphic_violence" in text
    assert 'mention "scam"' in text
    assert "bottom of the list items in the genre Horror" in text


def test_bad_rules_are_refused():
    with pytest.raises(ValueError, match="kind"):
        PolicyRule("mood", "sad")
    with pytest.raises(ValueError, match="action"):
        PolicyRule("genre", "Horror", "hide")


def test_token_masks_answer_like_reading_each_item():
    assert CATALOGUE.token_mask("labels", " GRAPHIC_violence ").tolist() == [
        False, True, False, False, True]
    assert CATALOGUE.token_mask("genres", "horror").tolist() == [
        False, True, False, True, False]
    assert not CATALOGUE.token_mask("labels", "").any()  # an empty value matches nothing


def by_hand(rules, j):
    """The policy's precedence read one rule and one item at a time: removal first."""
    matched = [r for r in rules if r.matches(CATALOGUE, j)]
    return next((r for r in matched if r.action == "remove"), matched[0] if matched else None)


def test_apply_judges_every_candidate_as_reading_each_rule_one_at_a_time():
    """The vectorised apply and verdict against the rules read by hand, on mixed orders."""
    rng = np.random.default_rng(3)
    rules = [PolicyRule("genre", "Horror", "demote"), PolicyRule("label", "drugs", "remove"),
             PolicyRule("keyword", "scam", "demote"), PolicyRule("item", 10, "remove"),
             PolicyRule("genre", "drama", "remove")]
    for _ in range(25):
        chosen = tuple(rules[i] for i in rng.permutation(len(rules))[:rng.integers(1, 6)])
        policy = ContentPolicy(rules=chosen)
        items = rng.permutation(5)[:rng.integers(1, 6)]
        keep, demoted, actions = policy.apply(CATALOGUE, items)
        expected = [(j, by_hand(chosen, int(j))) for j in items]
        assert [policy.verdict(CATALOGUE, int(j)) for j in items] == [r for _, r in expected]
        assert keep.tolist() == [r is None or r.action != "remove" for _, r in expected]
        assert demoted == {int(j): r.name for j, r in expected
                           if r is not None and r.action == "demote"}
        assert [a.rule for a in actions] == [r.name for _, r in expected if r is not None]
