"""Validity of the audits (issue 11), through bench/audit_validity.py's own functions.

One small trained model (the ``small_trained`` fixture: 150 synthetic users),
per-user figures computed once, then: shuffled labels rarely raise a gap, a
planted Recall@10 gap is found and covered, and the list the audits read is the
list users are served, for every user.
"""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from audits.bias import BiasAuditConfig
from recengine.bundle import save_bundle
from recengine.serving import load_serving_engine
from recengine.subject import Subject
from tests.conftest import REPO_ROOT


def _load_bench():
    name = "bench_audit_validity"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "bench" / "audit_validity.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it is built
    spec.loader.exec_module(module)
    return module


av = _load_bench()
CFG = BiasAuditConfig(n_users=150, k=10, n_boot=300, seed=0)


@pytest.fixture(scope="module")
def subject(small_trained) -> Subject:
    return Subject.build(*small_trained)


@pytest.fixture(scope="module")
def figures(subject):
    users = np.arange(subject.data.n_users, dtype=np.int64)
    return av.compute_figures(subject, users, CFG)


@pytest.fixture(scope="module")
def planter(subject, figures):
    return av.Planter(figures, av.rated_by_user(subject), subject.data.n_items)


def test_figures_are_the_audits_per_user_figures(figures):
    cols = {"u", "recall@10", "sse", "n_test", "long_tail_share", "rec_popularity"}
    assert cols <= set(figures.per_user.columns)
    assert len(figures.per_user) == len(figures.users) == len(figures.served_lists) == 150
    assert figures.per_user["recall@10"].notna().sum() > 100


def test_wilson_interval_by_hand():
    lo, hi = av.wilson(0, 40)
    assert lo == pytest.approx(0.0, abs=1e-12)
    assert hi == pytest.approx(3.8416 / (40 + 3.8416), rel=1e-3)  # z^2 / (n + z^2)
    lo, hi = av.wilson(20, 40)
    assert lo < 0.5 < hi and lo + hi == pytest.approx(1.0)


def test_shuffled_labels_rarely_raise_a_recall_gap(subject, figures):
    """40 shuffles per column: the share of recall@10 intervals excluding 0 stays <= 15%.

    Loose on purpose: at the nominal 5% the count of 40 is Binomial(40, 0.05)
    (mean 2, sd 1.4), so 6/40 = 0.15 is about 3 sd above it and holds for any
    seed, while a broken interval (pairs chosen after looking, or ratings
    resampled instead of users: 20-40% false alarms) fails. The bench's 100+
    shuffles give the real estimate, with its binomial interval.
    """
    groups, note = av.label_columns(subject, figures.users, seed=0)
    assert note is None and {"gender", "region"} <= set(groups.columns)
    rates = av.false_alarm_rates(figures, groups, CFG, shuffles=40, seed=0)
    checked = 0
    for col, metrics in rates.items():
        assert set(metrics) <= {"recall@10", "rmse", "long_tail_share", "rec_popularity"}
        for r in metrics.values():
            assert set(r) == {"rate", "ci_low", "ci_high", "shuffles"}
            assert r["ci_low"] <= r["rate"] <= r["ci_high"]
        if "recall@10" in metrics:
            assert metrics["recall@10"]["shuffles"] == 40
            assert metrics["recall@10"]["rate"] <= 0.15, (col, metrics["recall@10"])
            checked += 1
    assert checked >= 2


def test_random_label_columns_stand_in_when_the_data_has_none(subject, figures):
    class NoGroups:
        data = subject.data.__class__(subject.data.items,
                                      subject.data.users[["user_id"]].copy(),
                                      subject.data.interactions, name="x", source="x")

    groups, note = av.label_columns(NoGroups, figures.users, seed=0)
    assert list(groups.columns) == ["random_2", "random_4", "random_21"] and "random" in note
    sizes = groups["random_21"].iloc[figures.users].value_counts()
    assert len(sizes) == 21 and sizes.max() - sizes.min() <= 1  # balanced


def test_planting_replaces_relevant_items_with_unrated_ones(subject, figures, planter):
    rng = np.random.default_rng(0)
    everyone = np.ones(len(figures.users), dtype=bool)
    rated = av.rated_by_user(subject)
    replaced = planter.plant(rng, everyone, 1.0)
    for u, rel in zip(figures.users.tolist(), replaced, strict=True):
        original = figures.relevant.get(u, np.zeros(0, np.int64))
        assert len(rel) == len(original) == len(set(rel.tolist()))  # sizes kept, no duplicate
        assert not np.isin(rel, rated[u]).any()
    same = planter.plant(rng, everyone, 0.0)
    before = figures.per_user["recall@10"].to_numpy(float)
    np.testing.assert_allclose(planter.recall(same), before, equal_nan=True)


def test_planted_gap_is_found_and_covered(planter):
    """10 repeats per size: the large gap is found in >= 80%, covered in >= 70%.

    Loose because 10 repeats are few: at a true 95% coverage, 7/10 or fewer has
    probability about 1%; the bench's 20+ repeats give the figure itself.
    """
    rows, checks = av.planted_coverage(planter, CFG, shares=(0.3, 0.7), repeats=10, seed=0,
                                       check_draws=100)
    assert [r["share_replaced"] for r in rows] == [0.3, 0.7]
    assert rows[0]["planted_gap"] < rows[1]["planted_gap"]
    largest = rows[-1]
    assert largest["planted_gap"] > 0 and largest["repeats"] == 10
    assert largest["excludes_zero_share"] >= 0.8
    assert largest["coverage"] >= 0.7
    assert rows[0]["coverage"] >= 0.7
    for share, check in checks.items():  # the analytic gap is the mean of re-drawn gaps
        assert abs(check["monte_carlo_mean"] - check["analytic"]) <= (
            4 * check["monte_carlo_se"] + 1e-3), share


def test_audited_served_lists_equal_the_served_lists_for_every_user(subject, figures, tmp_path):
    """Every user, exact item ids in order: the audits' list is Engine.recommend's.

    Checked against the subject's own serving engine, against a fresh one
    reloaded from the saved bundle (what ``python -m recengine recommend`` builds)
    and, for one user, against the real CLI in a fresh process.
    """
    audited = av.audited_served_ids(subject, figures)
    assert len(audited) == subject.data.n_users
    result, bad = av.served_agreement(audited, subject.served, 10)
    assert bad == []
    assert result["inprocess_users"] == result["inprocess_agree"] == subject.data.n_users
    assert result["share"] == 1.0
    assert all(len(ids) == 10 for ids in audited.values())

    model_dir = save_bundle(subject.bundle, tmp_path / "model")
    reloaded = load_serving_engine(model_dir, subject.data)
    result, bad = av.served_agreement(audited, reloaded, 10, model_dir, cli_users=0)
    assert bad == [] and result["inprocess_agree"] == subject.data.n_users


def test_cli_list_equals_the_audited_list(subject, figures, tmp_path):
    model_dir = save_bundle(subject.bundle, tmp_path / "model")
    audited = av.audited_served_ids(subject, figures)
    user_id = sorted(audited)[0]
    assert av.cli_ids(model_dir, user_id, 10) == audited[user_id]
