"""The content-filter audit: what the policy keeps out, what it costs, and amplification."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

from audits.content_filter import (
    amplification_ratio,
    audit_content_filter,
    block_every_label,
    flagged_exposure,
)
from audits.objectives import ObjectiveAuditConfig
from recengine.data import load_source
from recengine.data.synthetic import SyntheticConfig, make_synthetic
from recengine.fit import train_two_tower
from recengine.objectives import OBJECTIVES, SERVED, ObjectiveSet
from recengine.policy import ContentPolicy
from recengine.retrieval import Catalogue
from recengine.split import temporal_split
from recengine.subject import Subject
from tests.factories import SMALL_TRAINING

CFG = ObjectiveAuditConfig(n_users=150, k=10)


@lru_cache(maxsize=3)
def objectives_with_boost(boost: float) -> ObjectiveSet:
    data = make_synthetic(SyntheticConfig(n_users=150, n_items=300, seed=0,
                                          harm_engagement_boost=boost))
    bundle = train_two_tower(data, temporal_split(data.interactions).train, SMALL_TRAINING)
    return Subject.build(data, bundle).objectives


@pytest.fixture(scope="module")
def model():
    return objectives_with_boost(0.5)


def test_flagged_exposure_by_hand():
    flagged = np.array([False, True, False, True])
    got = flagged_exposure([np.array([0, 1]), np.array([2, 0]), np.array([1, 3])], flagged)
    assert got == {"flagged_slots": 3, "flagged_items": 2, "users_with_flagged": 2,
                   "users_with_flagged_share": pytest.approx(2 / 3),
                   "flagged_share": pytest.approx(3 / 6)}
    assert amplification_ratio(0.3, 0.1) == pytest.approx(3.0)
    assert np.isnan(amplification_ratio(0.3, 0.0))


def test_blocked_label_never_reaches_a_list(model):
    policy = ContentPolicy(blocked_labels=("graphic_violence",))
    audit = audit_content_filter(model, policy, CFG)
    labels = model.business.labels
    violent = np.array(["graphic_violence" in str(x).split("|") for x in labels])
    assert violent.any(), "the data must have some items to block"
    for name in OBJECTIVES:
        for lst in audit.lists["with"][name]:
            assert not violent[lst].any()
    engine = model.engine
    for uid in engine.data.users["user_id"].iloc[:30]:
        result = engine.recommend(int(uid), 10, policy, model.objective("engagement"))
        assert all("graphic_violence" not in it.title for it in result.items)
        shown = engine.data.item_index([it.item_id for it in result.items])
        assert not violent[shown].any()
    # every action names the rule and is about an item that carries the label
    assert len(audit.actions) > 0
    assert set(audit.actions["rule"]) == {"label:graphic_violence"}
    acted = engine.data.item_index(audit.actions["item_id"].to_numpy())
    assert violent[acted].all()
    # the policy's cost is the difference in each objective's own terms
    comp = audit.comparison.set_index(["objective", "policy"])
    for row in audit.cost.itertuples():
        lost = comp.loc[(row.objective, "without"), row.measure] - \
            comp.loc[(row.objective, "with"), row.measure]
        assert row.lost == pytest.approx(lost)
    assert comp.loc[("engagement", "with"), "flagged_slots"] < \
        comp.loc[("engagement", "without"), "flagged_slots"]


def test_demoted_items_come_after_all_others(model):
    policy = ContentPolicy(blocked_labels=("conspiracy", "scam", "graphic_violence"),
                           action="demote")
    audit = audit_content_filter(model, policy, ObjectiveAuditConfig(n_users=40, k=10))
    flagged = model.business.flagged
    for lst in audit.lists["with"]["engagement"]:
        marks = flagged[lst]
        if marks.any():  # once a demoted item appears, only demoted items follow
            assert marks[np.argmax(marks):].all()
    assert set(audit.actions["action"]) == {"demoted"}
    assert audit.counts["shown_slots_removed"] == 0


def test_engagement_amplification_grows_with_the_planted_knob():
    def measure(boost):
        objectives = objectives_with_boost(boost)
        return audit_content_filter(objectives, block_every_label(objectives), CFG).amplification

    low, high = measure(0.0), measure(3.0)
    assert high.ratio_vs_served() > low.ratio_vs_served()
    assert high.ratio_vs_catalogue() > 1.5, "a strong knob makes engagement favour flagged items"
    assert high.shares["engagement"] > low.shares["engagement"]


def test_shown_slots_are_counted_apart_from_candidates_caught(model):
    """The counts say what users would have seen, checked against the served lists."""
    policy = block_every_label(model)
    audit = audit_content_filter(model, policy, CFG)
    flagged = model.business.flagged
    served_without = audit.lists["without"][SERVED]
    shown_flagged = sum(int(flagged[lst].sum()) for lst in served_without)
    assert audit.counts["shown_slots_removed"] == shown_flagged
    assert audit.counts["candidates_caught"] == len(audit.actions)
    assert audit.counts["candidates_caught"] > audit.counts["shown_slots_removed"]
    # the served result says the same for one user
    engine = model.engine
    uid = int(engine.data.users["user_id"].iloc[int(audit.users[0])])
    result = engine.recommend(uid, 10, policy)
    without = {it.item_id for it in engine.recommend(uid, 10).items}
    assert {a.item_id for a in result.displaced} == {a.item_id for a in result.filtered
                                                     if a.item_id in without}


def test_the_filter_filters_movielens_shaped_data(ml_100k_fixture_path):
    """No labels in the data: simulated ones are attached once, marked, and the policy acts."""
    data = load_source(f"movielens-100k:{ml_100k_fixture_path}")
    assert "items.labels" in data.simulated
    assert data.provenance["items.labels"].startswith("simulated here")
    labels = data.items["labels"].astype(str)
    assert (labels != "").any(), "the simulated labels mark some items"
    cat = Catalogue.from_items(data.items)
    policy = ContentPolicy(blocked_labels=("graphic_violence", "conspiracy", "scam"))
    keep, _, actions = policy.apply(cat, np.arange(data.n_items))
    flagged = (labels != "").to_numpy()
    assert (~keep).tolist() == flagged.tolist()
    assert len(actions) == int(flagged.sum())
