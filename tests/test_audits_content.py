"""The content-filter audit: what the policy keeps out, what it costs, and amplification."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

from audits.content_filter import (
    amplification_ratio,
    audit_content_filter,
    flagged_exposure,
    measure_amplification,
)
from audits.objectives import OBJECTIVES, ObjectiveAuditConfig, objective_model
from recengine.data.synthetic import SyntheticConfig, make_synthetic
from recengine.engine import Engine
from recengine.fit import train_two_tower
from recengine.policy import ContentPolicy
from recengine.split import temporal_split
from tests.factories import SMALL_TRAINING

CFG = ObjectiveAuditConfig(n_users=150, k=10)


@lru_cache(maxsize=3)
def engine_with_boost(boost: float) -> Engine:
    data = make_synthetic(SyntheticConfig(n_users=150, n_items=300, seed=0,
                                          harm_engagement_boost=boost))
    bundle = train_two_tower(data, temporal_split(data.interactions).train, SMALL_TRAINING)
    return Engine.build(data, bundle)


@pytest.fixture(scope="module")
def model():
    return objective_model(engine_with_boost(0.5))


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


def test_engagement_amplification_grows_with_the_planted_knob():
    low = measure_amplification(objective_model(engine_with_boost(0.0)), CFG)
    high = measure_amplification(objective_model(engine_with_boost(3.0)), CFG)
    assert high.ratio_vs_rating() > low.ratio_vs_rating()
    assert high.ratio_vs_catalogue() > 1.5, "a strong knob makes engagement favour flagged items"
    assert high.shares["engagement"] > low.shares["engagement"]
