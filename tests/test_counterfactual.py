"""Counterfactual "why": every claim re-checked here by rerunning the real pipeline.

The search (recengine.counterfactual) screens removal sets with a batched,
compiled user tower; these tests never trust it: each found set is rerun here
with ``engine.candidates_without`` + ``engine.rank``, each claimed minimal set
has every proper subset rerun, and the score breakdown is summed back to the
score. One small model (``small_trained``) serves every test.
"""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from recengine.cli import main
from recengine.counterfactual import (
    CounterfactualConfig,
    RerunCache,
    explain_item,
    explain_list,
    score_breakdown,
    similar_first_baseline,
)
from recengine.reranker import FEATURE_WORDS
from recengine.serving import serving_engine

K = 10
USERS = 6  # users whose whole top 10 is explained


@pytest.fixture(scope="module")
def engine(small_trained):
    data, bundle = small_trained
    return serving_engine(data, bundle)


@pytest.fixture(scope="module")
def users(engine):
    ids = engine.data.users["user_id"].to_numpy()
    return [int(u) for u in ids[np.linspace(0, len(ids) - 1, USERS).astype(int)]]


@pytest.fixture(scope="module")
def explained(engine, users):
    """(ours, baseline) for every item of each user's served top 10."""
    ours, base = [], []
    for uid in users:
        for it in engine.recommend(uid, K).items:
            ours.append(explain_item(engine, uid, it.item_id))
            base.append(similar_first_baseline(engine, uid, it.item_id))
    return ours, base


def rerun_top(engine, user_id: int, removed: list[int], k: int = K) -> list[int]:
    """The real pipeline without ``removed``: its top k ids, the removed items left out."""
    cands = engine.candidates_without(user_id, removed)
    ids = [it.item_id for it in engine.rank(cands, k + len(removed)).items]
    return [i for i in ids if i not in set(removed)][:k]


def rerun_rank(engine, user_id: int, removed: list[int], item_id: int) -> int | None:
    """The item's rank among all reduced-history candidates (removed ones left out)."""
    cands = engine.candidates_without(user_id, removed)
    ids = [it.item_id for it in engine.rank(cands, len(cands.items)).items]
    ids = [i for i in ids if i not in set(removed)]
    return ids.index(item_id) + 1 if item_id in ids else None


def test_found_sets_are_confirmed_by_an_independent_rerun(engine, explained):
    ours, _ = explained
    found = [cf for cf in ours if cf.found]
    assert len(found) >= 5, "too few counterfactuals found to test anything"
    for cf in found:
        removed = [i for i, _ in cf.removed]
        assert cf.verified and 1 <= len(removed) <= 3
        assert cf.item_id not in rerun_top(engine, cf.user_id, removed)
        assert cf.new_rank == rerun_rank(engine, cf.user_id, removed, cf.item_id)
        assert cf.new_rank is None or cf.new_rank > K
        rated = set(engine.index.catalogue.item_ids[engine.index.watched(
            int(engine.data.user_index(cf.user_id)[0]))].tolist())
        assert set(removed) <= rated  # only the user's own rated items are removed


def test_claimed_minimal_sets_lose_the_effect_without_any_item(engine, explained):
    ours, _ = explained
    claimed = [cf for cf in ours if cf.found and cf.minimal and len(cf.removed) > 1]
    assert claimed, "no minimal set larger than one item to check"
    for cf in claimed:
        removed = [i for i, _ in cf.removed]
        for size in range(1, len(removed)):
            for subset in combinations(removed, size):  # each set with one item fewer, and more
                assert cf.item_id in rerun_top(engine, cf.user_id, list(subset)), \
                    (cf.user_id, cf.item_id, subset)


def test_messages_name_the_removed_titles_and_the_replacement(engine, explained):
    ours, _ = explained
    served = {}
    for cf in ours:
        if cf.user_id not in served:
            served[cf.user_id] = {it.item_id for it in engine.recommend(cf.user_id, K).items}
        if cf.found:
            assert cf.message.startswith("Without ")
            assert all(title in cf.message for _, title in cf.removed)
            if cf.replacement is not None:
                rid, rtitle = cf.replacement
                assert f"In its place: {rtitle}." in cf.message
                assert rid not in served[cf.user_id]
                assert rid in rerun_top(engine, cf.user_id, [i for i, _ in cf.removed])
        else:
            assert "no set of up to 3" in cf.message.lower()
            assert not cf.removed and not cf.verified and cf.new_rank is None


def test_not_found_says_so_for_a_tighter_search(engine, users):
    config = CounterfactualConfig(max_size=1, pool=1)
    results = [explain_item(engine, users[0], it.item_id, config)
               for it in engine.recommend(users[0], K).items]
    missing = [cf for cf in results if not cf.found]
    assert missing
    assert all("no set of up to 1 of your rated items" in cf.message.lower() for cf in missing)
    assert all(len(cf.removed) <= 1 for cf in results)


def test_the_baseline_is_verified_the_same_way(engine, explained):
    ours, base = explained
    assert any(cf.found for cf in base)
    for cf in base:
        assert cf.method == "similar-first" and cf.found == cf.verified
        if cf.found:
            assert cf.item_id not in rerun_top(engine, cf.user_id, [i for i, _ in cf.removed])
    # ours tries every single the baseline's first step tries: it finds at least as many
    # single-item sets
    assert (sum(cf.found and len(cf.removed) == 1 for cf in ours)
            >= sum(cf.found and len(cf.removed) == 1 for cf in base))


def test_the_screened_reruns_are_the_engines_reruns(engine, users):
    uid = users[1]
    cache = RerunCache(engine, uid)
    w = cache.watched.tolist()
    sets = [frozenset([w[0]]), frozenset([w[3]]), frozenset(w[:2]), frozenset(w[1:4])]
    for s, order in zip(sets, cache.orders(sets), strict=True):
        removed = cache.item_ids(s)
        cands = engine.candidates_without(uid, removed)
        real = [it.item_id for it in engine.rank(cands, len(cands.items)).items
                if it.item_id not in removed]
        assert engine.index.catalogue.item_ids[order.items].tolist() == real
    # the batched tower: eager batches equal one-by-one exactly, the graph to rounding
    mine = cache._mine
    histories = [mine[~np.isin(mine["i"].to_numpy(), list(s))] for s in sets]
    single = [engine.scorer.history_user(cache._user, h) for h in histories]
    for screen, tol in ((False, 0.0), (True, 1e-5)):
        answers, exact = engine.scorer.history_users(cache._user, histories, screen=screen)
        assert exact is (not screen)
        for (v, b), (v1, b1) in zip(answers, single, strict=True):
            assert np.abs(v - v1).max() <= tol and abs(b - b1) <= 1e-5


def test_explain_list_shares_reruns_and_agrees(engine, users, explained):
    ours, _ = explained
    listed = explain_list(engine, users[2])
    cold = {cf.item_id: cf for cf in ours if cf.user_id == users[2]}
    assert [cf.item_id for cf in listed] == [it.item_id for it in
                                             engine.recommend(users[2], K).items]
    assert all(cf.removed == cold[cf.item_id].removed for cf in listed)


def test_only_a_listed_item_can_be_explained(engine, users):
    uid = users[0]
    watched = engine.index.catalogue.item_ids[engine.index.watched(
        int(engine.data.user_index(uid)[0]))[0]]
    with pytest.raises(ValueError, match="not in user"):
        explain_item(engine, uid, int(watched))
    with pytest.raises(KeyError, match="unknown item"):
        explain_item(engine, uid, 987654321)
    with pytest.raises(KeyError, match="unknown user"):
        explain_item(engine, 987654321, int(watched))
    with pytest.raises(ValueError, match="max_size"):
        CounterfactualConfig(max_size=0)


def test_score_breakdown_sums_exactly_to_the_score(engine, users):
    for uid in users[:3]:
        result = engine.recommend(uid, K)
        for it in result.items:
            b = score_breakdown(it, result.intercept, engine.reranker)
            assert b.total == pytest.approx(it.score, abs=1e-9)
            assert result.intercept + sum(it.contributions.values()) == pytest.approx(
                it.score, abs=1e-9)
            assert [p.feature for p in b.parts] == sorted(
                it.contributions, key=lambda f: (-abs(it.contributions[f]), f))
            assert all(p.words == FEATURE_WORDS[p.feature] for p in b.parts)
            for p in b.parts:
                if p.weight:
                    assert p.weight * p.standardised == pytest.approx(p.contribution)
            assert [s.source for s in b.sources] == [h.source for h in it.sources]
            assert all(s.words == h.describe() for s, h in zip(b.sources, it.sources,
                                                                 strict=True))
    plain = score_breakdown(result.items[0], None)
    assert plain.total is None and not plain.parts and "not ordered" in plain.note


# ----- the CLI verb and the view ----------------------------------------------------------
@pytest.fixture(scope="module")
def cli_case(engine, explained):
    """A found counterfactual (user, item) and an item outside that user's list."""
    ours, _ = explained
    cf = next(cf for cf in ours if cf.verified)
    watched = engine.index.catalogue.item_ids[engine.index.watched(
        int(engine.data.user_index(cf.user_id)[0]))[0]]
    return cf, int(watched)


def test_cli_explain_prints_the_why(small_model_dir, cli_case, capsys):
    cf, _ = cli_case
    args = ["explain", "--model", str(small_model_dir), "--user", str(cf.user_id), "--item",
            str(cf.item_id)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert cf.message in out and "confirmed by a fresh rerun" in out
    assert all(title in out for _, title in cf.removed)
    assert "Score " in out and "Found by:" in out
    assert main([*args, "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["item_id"] == cf.item_id and got["verified"] and got["found"]
    assert [r[0] for r in got["removed"]] == [i for i, _ in cf.removed]
    parts = got["score_breakdown"]["parts"]
    assert got["score_breakdown"]["total"] == pytest.approx(got["score_breakdown"]["score"])
    assert {p["feature"] for p in parts} <= set(FEATURE_WORDS)


def test_cli_explain_refuses_an_item_not_in_the_list(small_model_dir, cli_case, capsys):
    cf, outside = cli_case
    base = ["explain", "--model", str(small_model_dir), "--user", str(cf.user_id)]
    assert main([*base, "--item", str(outside)]) == 2
    assert capsys.readouterr().err.startswith(f"error: item {outside} is not in user")
    assert main([*base, "--item", "987654321"]) == 2
    assert "unknown item" in capsys.readouterr().err
    assert main(["explain", "--model", str(small_model_dir), "--user", "987654321", "--item",
                 str(cf.item_id)]) == 2
    assert "unknown user" in capsys.readouterr().err


VIEW = """
import sys
sys.path.insert(0, {root!r})
from recengine.serving import load_serving_engine
from ui.explain_view import render_why
engine = load_serving_engine({path!r})
render_why(engine, {user}, {item}, 10)
render_why(engine, {user}, {outside}, 10)
"""


def test_view_draws_the_why_and_never_raises(small_model_dir, cli_case):
    cf, outside = cli_case
    root = str(Path(__file__).resolve().parents[1])
    at = AppTest.from_string(VIEW.format(root=root, path=str(small_model_dir), user=cf.user_id,
                                         item=cf.item_id, outside=outside),
                             default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    text = " ".join(m.value for m in at.markdown)
    assert "Without" in text and "Its score, part by part" in text
    assert all(title.split(" ")[0] in text for _, title in cf.removed)
    assert at.dataframe  # the breakdown table
    assert any("No explanation for this item" in c.value for c in at.caption)


def test_the_csv_columns_say_the_same_as_the_explanations(engine):
    from recengine.counterfactual import counterfactual_frame, explain_list

    uid = int(engine.data.users["user_id"].iloc[0])
    explanations = explain_list(engine, uid)
    frame = counterfactual_frame(explanations)
    assert frame["item_id"].tolist() == [it.item_id for it in engine.recommend(uid, 10).items]
    for row, cf in zip(frame.itertuples(), explanations, strict=True):
        assert row.counterfactual == cf.message and row.counterfactual_verified == cf.verified
        assert row.counterfactual_removed_ids == "|".join(str(i) for i, _ in cf.removed)
