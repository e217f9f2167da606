"""The model card (Markdown, JSON, terminal) and the transparency statements it quotes.

Every card figure is checked against an independent computation on the same
:class:`~recengine.subject.Subject`: the model page's protocol run, a count by
hand over the served lists, the audit functions called directly.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from audits.__main__ import main as audits_main
from audits.bias import BiasAuditConfig, audit_bias
from audits.objectives import ObjectiveAuditConfig, audit_objectives, sample_users
from audits.report import SECTIONS, ReportConfig, build_report, jsonable, markdown_table
from audits.simulation import run_study, study_arms
from audits.simulation_config import SimulationConfig
from audits.simulation_summary import summarise
from audits.simulation_world import World
from audits.tradeoff import tradeoff_sweep
from audits.transparency import explain_result, filter_sentence, statement
from recengine.bundle import load_bundle, save_bundle
from recengine.model_store import evaluate_bundle
from recengine.policy import ContentPolicy
from recengine.results import PolicyAction, RankedItem, RecommendationResult
from recengine.serving import TRAINED_ON
from recengine.subject import Subject

N_USERS, K, N_BOOT = 40, 10, 100


@pytest.fixture(scope="module")
def subject(small_trained) -> Subject:
    data, bundle = small_trained
    return Subject.build(data, bundle)


@pytest.fixture(scope="module")
def card_config() -> ReportConfig:
    """An empty policy (the default) and the protocol: the card the app opens with."""
    return ReportConfig(n_users=N_USERS, k=K, n_boot=N_BOOT)


@pytest.fixture(scope="module")
def card(subject, card_config):
    return build_report(subject, card_config)


@pytest.fixture(scope="module")
def doc(card) -> dict:
    return json.loads(card.to_json())["sections"]


def sampled_user_ids(subject: Subject) -> list[int]:
    users = sample_users(subject.data.n_users, N_USERS, 0)
    return [int(subject.data.users["user_id"].iloc[u]) for u in users]


# ----- transparency -------------------------------------------------------------------
RULE = "Ordered by predicted rating: the rating we expect you to give"


def result_with(actions, item_ids=(1, 2)) -> RecommendationResult:
    items = [RankedItem(rank=r, item_id=i, title=f"Film {i}", genres="Drama", score=0.5,
                        predicted_rating=4.0, sources=[]) for r, i in enumerate(item_ids, 1)]
    return RecommendationResult(user_id=1, items=items, filtered=list(actions),
                                stage_counts={}, objective="rating", ordering_rule=RULE)


def test_statement_says_the_rule_the_filters_and_paid_placement():
    hidden = [PolicyAction(7, "A", "removed", "label:graphic_violence"),
              PolicyAction(8, "B", "removed", "label:graphic_violence"),
              PolicyAction(9, "C", "demoted", "genre:Horror")]
    assert statement(result_with(hidden)) == (
        f"{RULE}; 2 items hidden by the graphic violence filter; 1 item moved to the bottom "
        "by the Horror genre filter.")
    assert statement(result_with([]), policy=ContentPolicy()) == \
        f"{RULE}; no content filter is active."
    assert statement(result_with([]), sponsored_item_ids=[2]) == (
        f"{RULE}. 1 of these 2 are sponsored: an advertiser pays when you click.")
    assert filter_sentence([]) == ""


def test_each_item_keeps_its_why(subject):
    uid = sampled_user_ids(subject)[0]
    result = subject.served.recommend(uid, K)
    items = subject.data.items
    sponsored = items.loc[items["sponsored_bid"] > 0, "item_id"].tolist()
    table = explain_result(result, sponsored)
    assert table["why"].tolist() == result.to_frame()["why"].tolist()
    assert table["sponsored"].tolist() == [i in set(sponsored) for i in table["item_id"]]


def test_json_and_table_helpers():
    assert jsonable({"a": np.float32(1.5), "b": float("nan"), "c": np.array([1, 2]),
                     "d": np.bool_(True)}) == {"a": 1.5, "b": None, "c": [1, 2], "d": True}
    md = markdown_table(pd.DataFrame({"x": [1.23456, np.nan], "y": ["a|b", "c"],
                                      "n": [1234, 5], "ok": [True, False]}), digits=3)
    assert md.splitlines() == ["| x | y | n | ok |", "| --- | --- | --- | --- |",
                               "| 1.23 | a\\|b | 1,234 | yes |", "| - | c | 5 | no |"]
    # a title from user data stays text: no image, no link, no HTML in the card
    hostile = markdown_table(pd.DataFrame({"title": ["![r](http://x/y.png) [a](javascript:z)"]}))
    body = hostile.splitlines()[2]
    assert "![" not in body and "](" not in body and "\\!\\[r\\]" in body


# ----- the card -----------------------------------------------------------------------
def test_card_rmse_is_the_model_page_figure_and_a_hand_computed_one(small_trained, subject,
                                                                    doc):
    data, bundle = small_trained
    evaluation = doc["Evaluation"]
    card_rmse = evaluation["systems"]["pipeline"]["rmse"]
    # the model page: the same bundle through evaluate_bundle (tagged as the store tags it)
    tagged = dataclasses.replace(bundle, metadata={**bundle.metadata, "trained_on": TRAINED_ON})
    page = evaluate_bundle(data, tagged)
    assert abs(card_rmse - page["pipeline"]["rmse"]) < 1e-9
    # by hand: the protocol engine's predictions on the test rows, clipped to the scale
    test = subject.split.test
    pred = subject.protocol.pair_ratings(test["u"].to_numpy(), test["i"].to_numpy())
    lo, hi = data.rating_scale
    err = np.clip(pred, lo, hi) - test["rating"].to_numpy(float)
    assert abs(card_rmse - math.sqrt(float(np.mean(err ** 2)))) < 1e-9
    assert evaluation["headline"]["rmse"] == card_rmse
    assert evaluation["headline"]["test_ratings"] == len(test)
    assert {"popularity", "itemknn", "ease", "bias", "pipeline"} <= set(evaluation["systems"])


def test_card_intervals_bootstrap_the_protocol_lists_per_user(subject, doc):
    unc = doc["Evaluation"]["uncertainty"]
    test = subject.split.test
    liked = test[test["rating"] >= 4]
    relevant = {int(u): set(g.tolist()) for u, g in liked.groupby("u")["i"]}
    users = sorted(relevant)
    lists = subject.protocol.recommend_topk_batch(np.array(users), K)
    recall, ndcg = [], []
    for u, lst in zip(users, lists, strict=True):
        rel, top = relevant[u], [int(j) for j in lst[:K]]
        hits = [r for r, j in enumerate(top) if j in rel]
        recall.append(len(hits) / min(len(rel), K))
        idcg = sum(1 / math.log2(r + 2) for r in range(min(len(rel), K)))
        ndcg.append(sum(1 / math.log2(r + 2) for r in hits) / idcg)
    assert unc["users"] == len(users) == doc["Evaluation"]["split"]["users_with_relevant"]
    for name, values in ((f"recall@{K}", recall), (f"ndcg@{K}", ndcg)):
        v = np.asarray(values)
        assert unc[name]["value"] == pytest.approx(v.mean(), abs=1e-12)
        assert unc[name]["value"] == pytest.approx(
            doc["Evaluation"]["systems"]["pipeline"][name], abs=1e-12)
        idx = np.random.default_rng(0).integers(0, len(v), size=(N_BOOT, len(v)))
        lo, hi = np.quantile(v[idx].mean(axis=1), [0.025, 0.975])
        assert (unc[name]["ci_low"], unc[name]["ci_high"]) == pytest.approx((lo, hi))


def test_slot_shares_by_source_equal_a_count_over_the_served_lists(subject, doc):
    counts, slots = {}, 0
    for uid in sampled_user_ids(subject):
        for it in subject.served.recommend(uid, K).items:
            slots += 1
            for source in {h.source for h in it.sources}:
                counts[source] = counts.get(source, 0) + 1
    why = doc["Why items are there"]
    assert why["slots"] == slots and why["users"] == N_USERS
    card = {row["source"]: row for row in why["sources"]}
    assert {s: row["slots"] for s, row in card.items() if row["slots"]} == counts
    for source, n in counts.items():
        assert card[source]["share"] == pytest.approx(n / slots)
    importance = subject.served.reranker.importance()
    assert {row["feature"]: row["importance"] for row in why["ranking_stage"]} == \
        pytest.approx(importance)


def test_an_empty_policy_is_compared_with_every_label_blocked(subject, doc):
    content = doc["Content policy and filter"]
    labels = sorted({t for v in subject.objectives.business.labels
                     for t in str(v).split("|") if t})
    assert content["every_label_blocked"] is True
    assert [r["rule"] for r in content["rules"]] == [f"label:{x}" for x in labels]
    rows = {(r["objective"], r["policy"]): r for r in content["comparison"]}
    # by hand: the flagged share of the served top 10 without any policy
    flagged = subject.objectives.business.flagged
    users = sample_users(subject.data.n_users, N_USERS, 0)
    lists = subject.served.recommend_topk_batch(users, K)
    shown_flagged = sum(int(flagged[lst].sum()) for lst in lists)
    assert rows[("served", "without")]["flagged_share"] == pytest.approx(
        shown_flagged / sum(len(x) for x in lists))
    assert shown_flagged > 0
    assert rows[("served", "with")]["flagged_share"] == 0.0  # every label removed
    assert content["counts"]["shown_slots_removed"] == shown_flagged
    assert content["counts"]["candidates_caught"] >= shown_flagged


def test_card_figures_equal_the_audit_functions(subject, card_config, doc):
    ocfg = ObjectiveAuditConfig(n_users=N_USERS, k=K, weights=card_config.weights)
    direct = audit_objectives(subject.objectives, ocfg)
    card = {row["objective"]: row for row in doc["Objectives compared"]["metrics"]}
    for name, row in direct.metrics.iterrows():
        assert card[name] == pytest.approx({"objective": name, **row.to_dict()})
    assert card["served"]["overlap_with_served"] == 1.0
    sweep = tradeoff_sweep(subject.objectives, ocfg, card_config.tradeoff_steps)
    assert doc["Objectives compared"]["tradeoff"][0]["setting"] == "served"
    assert [r["expected_profit"] for r in doc["Objectives compared"]["tradeoff"]] == \
        pytest.approx(sweep["expected_profit"].tolist())
    bias = audit_bias(subject, BiasAuditConfig(n_users=N_USERS, k=K, n_boot=N_BOOT))
    assert doc["Bias and fairness"]["summary"] == pytest.approx(bias.summary)
    assert len(doc["Bias and fairness"]["groups"]) == len(bias.groups)
    assert [g["p_holm"] for g in doc["Bias and fairness"]["gaps"]] == \
        [None if not np.isfinite(p) else pytest.approx(p) for p in bias.gaps["p_holm"]]


def test_the_ordering_section_states_the_served_rule_and_the_active_objective(subject):
    weights = {"rating": 1.0, "engagement": 1.0, "profit": 0.0}
    policy = ContentPolicy(blocked_labels=("scam",))
    cfg = ReportConfig(n_users=20, k=K, objective="blend", weights=weights, policy=policy,
                       include_protocol=False, n_boot=20)
    doc = json.loads(build_report(subject, cfg).to_json())["sections"]
    order = doc["Ordering rule and objective"]
    assert order["served_rule"] == subject.served.served_objective.rule
    assert order["active_rule"] == subject.objectives.objective("blend", weights).rule
    assert order["blend_in_words"] == "50% predicted rating, 50% expected watch time"
    content = doc["Content policy and filter"]
    assert content["every_label_blocked"] is False
    assert content["rules"] == [{"rule": "label:scam", "action": "remove"}]
    assert doc["Evaluation"]["skipped"] is True
    with pytest.raises(ValueError, match="unknown objective"):
        ReportConfig(objective="clicks")


def test_markdown_has_every_section_readable_tables_and_no_raw_values(card):
    md = card.to_markdown()
    titles = [line[3:] for line in md.splitlines() if line.startswith("## ")]
    assert titles == list(SECTIONS)
    assert list(json.loads(card.to_json())["sections"]) == list(SECTIONS)
    assert "{'" not in md and "None" not in md
    assert not re.search(r"\bnan\b", md, flags=re.IGNORECASE)
    lines = md.splitlines()
    headers = [lines[n - 1] for n, line in enumerate(lines) if line.startswith("| ---")]
    assert len(headers) >= 10
    for header in headers:
        assert "_" not in header, header


def test_the_app_and_the_terminal_write_the_same_card(small_trained, tmp_path, capsys):
    data, bundle = small_trained
    assert bundle.metadata["data_source"] == data.source  # reloads the very same data
    model_dir = tmp_path / "model"
    save_bundle(bundle, model_dir)
    out, js = tmp_path / "x.md", tmp_path / "x.json"
    rc = audits_main(["report", "--model", str(model_dir), "--out", str(out), "--json", str(js),
                      "--users", "40", "--no-protocol"])
    assert rc == 0
    app = build_report(Subject.build(data, load_bundle(model_dir)),
                       ReportConfig(n_users=40, include_protocol=False))
    assert json.loads(js.read_text()) == json.loads(app.to_json())
    assert out.read_text() == app.to_markdown()
    capsys.readouterr()
    for argv in (["--model", str(tmp_path / "missing")],
                 ["--model", str(model_dir), "--weights", "1,2"]):
        rc = audits_main(["report", *argv, "--out", str(out)])
        err = capsys.readouterr().err
        assert rc == 2
        assert err.count("\n") == 1 and err.startswith("error:")
    rc = audits_main(["report", "--model", str(tmp_path / "missing"), "--out", str(out)])
    assert "missing" in capsys.readouterr().err


def test_the_card_carries_the_simulated_feedback_loops(small_trained):
    """On synthetic data the card's loop section is the study's own summary, labelled simulated."""
    data, bundle = small_trained
    subject = Subject.build(data, bundle)
    cfg = ReportConfig(n_users=30, n_boot=50, include_protocol=False, simulate_rounds=2,
                       simulate_seeds=1)
    card = build_report(subject, cfg).to_dict()["sections"]["Feedback loops (simulated)"]
    world = World.from_data(subject.data, bundle, bundle.config)
    weights = tuple(cfg.weights[o] for o in ("rating", "engagement", "profit"))
    study = run_study(world, study_arms(SimulationConfig(
        rounds=2, k=10, n_users=30, objective="served", weights=weights, content_filter=True)),
        [0])
    assert card["run"] and card["summary"] == summarise(study, "served")
    off = build_report(subject, ReportConfig(n_users=30, n_boot=50, include_protocol=False))
    assert off.to_dict()["sections"]["Feedback loops (simulated)"] == {"run": False}
