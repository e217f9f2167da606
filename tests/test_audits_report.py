"""Transparency statements and the model-card report (Markdown, JSON, terminal)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from audits.__main__ import main as audits_main
from audits.bias import BiasAuditConfig, audit_bias
from audits.objectives import ObjectiveAuditConfig, audit_objectives, objective_model
from audits.report import SECTIONS, ReportConfig, build_report, jsonable, markdown_table
from audits.transparency import explain_result, filter_sentence, objective_phrase, statement
from recengine.bundle import save_bundle
from recengine.engine import Engine
from recengine.policy import ContentPolicy
from recengine.results import PolicyAction, RankedItem, RecommendationResult


@pytest.fixture(scope="module")
def trained(small_trained):
    return small_trained


@pytest.fixture(scope="module")
def engine(trained) -> Engine:
    data, bundle = trained
    return Engine.build(data, bundle)


def result_with(actions, objective="rating", item_ids=(1, 2)) -> RecommendationResult:
    items = [RankedItem(rank=r, item_id=i, title=f"Film {i}", genres="Drama", score=0.5,
                        predicted_rating=4.0, sources=[]) for r, i in enumerate(item_ids, 1)]
    return RecommendationResult(user_id=1, items=items, filtered=list(actions),
                                stage_counts={}, objective=objective)


# ----- transparency -------------------------------------------------------------------
def test_statement_says_the_objective_and_the_filters_in_plain_words():
    hidden = [PolicyAction(7, "A", "removed", "label:graphic_violence"),
              PolicyAction(8, "B", "removed", "label:graphic_violence"),
              PolicyAction(9, "C", "demoted", "genre:Horror")]
    text = statement(result_with(hidden))
    assert text == ("Ranked by predicted enjoyment (the rating we expect you to give); "
                    "2 items hidden by the graphic violence filter; 1 item moved to the "
                    "bottom by the Horror genre filter.")
    assert statement(result_with([]), policy=ContentPolicy()).endswith(
        "no content filter is active.")
    paid = statement(result_with([], "profit"), sponsored_item_ids=[2])
    assert paid == ("Ranked by expected revenue to this service, including paid placement. "
                    "1 of these 2 are sponsored: an advertiser pays when you click.")
    assert objective_phrase("blend", {"rating": 3, "engagement": 1, "profit": 0}) == \
        "Ranked by a mix of 75% predicted enjoyment, 25% expected watch time"
    assert filter_sentence([]) == ""


def test_each_item_keeps_its_why(engine):
    uid = int(engine.data.users["user_id"].iloc[0])
    result = engine.recommend(uid, 10)
    sponsored = engine.data.items.loc[engine.data.items["sponsored_bid"] > 0, "item_id"]
    table = explain_result(result, sponsored.tolist())
    assert table["why"].tolist() == result.to_frame()["why"].tolist()
    assert (table["why"].str.len() > 0).all()
    assert table["sponsored"].tolist() == [i in set(sponsored) for i in table["item_id"]]


# ----- the report ---------------------------------------------------------------------
def test_json_and_table_helpers():
    assert jsonable({"a": np.float32(1.5), "b": float("nan"), "c": np.array([1, 2]),
                     "d": np.bool_(True)}) == {"a": 1.5, "b": None, "c": [1, 2], "d": True}
    import pandas as pd

    md = markdown_table(pd.DataFrame({"x": [1.23456, np.nan], "y": ["a|b", "c"]}), digits=3)
    assert md.splitlines() == ["| x | y |", "| --- | --- |", "| 1.23 | a/b |", "| - | c |"]


@pytest.fixture(scope="module")
def report_and_config(engine):
    cfg = ReportConfig(n_users=60, k=10, policy=ContentPolicy(blocked_labels=("scam",)),
                       n_boot=100)
    return build_report(engine, cfg), cfg


def test_report_has_every_section_in_markdown_and_json(report_and_config):
    card, _ = report_and_config
    md = card.to_markdown()
    for title in SECTIONS:
        assert f"## {title}" in md
    doc = json.loads(card.to_json())
    assert list(doc["sections"]) == list(SECTIONS)
    assert "synthetic data" in doc["sections"]["Data set"]["license"]
    assert "items.price" in doc["sections"]["Data set"]["simulated_columns"]
    evaluation = doc["sections"]["Evaluation"]["systems"]
    assert {"popularity", "itemknn", "ease", "bias", "model", "pipeline"} <= set(evaluation)
    assert "recall@10_vs_ease" in evaluation["pipeline"]
    assert doc["sections"]["Content policy"]["rules"] == [{"rule": "label:scam",
                                                           "action": "remove"}]
    assert doc["sections"]["Known limitations"]["items"]


def test_report_figures_equal_the_audit_functions(engine, report_and_config):
    card, cfg = report_and_config
    doc = json.loads(card.to_json())["sections"]["Audit results"]
    model = objective_model(engine, cfg.seed)
    direct = audit_objectives(model, ObjectiveAuditConfig(n_users=60, k=10,
                                                          weights=cfg.weights))
    for row in doc["objectives"]["metrics"]:
        for key, value in direct.metrics.loc[row["objective"]].items():
            assert row[key] == pytest.approx(value)
    bias = audit_bias(engine, BiasAuditConfig(n_users=60, k=10, n_boot=100),
                      policy=cfg.policy)
    for key, value in bias.summary.items():
        assert doc["bias"]["summary"][key] == pytest.approx(value)
    md = card.to_markdown()
    assert f"{direct.metrics.loc['profit', 'sponsored_share']:.4g}" in md


def test_report_from_the_terminal(trained, tmp_path, capsys):
    data, bundle = trained
    model_dir = tmp_path / "model"
    save_bundle(bundle, model_dir)
    out, js = tmp_path / "card.md", tmp_path / "card.json"
    rc = audits_main(["report", "--model", str(model_dir), "--out", str(out), "--json", str(js),
                      "--users", "30", "--no-protocol", "--block-label", "scam"])
    assert rc == 0
    assert out.read_text().startswith("# Model card: synthetic")
    assert json.loads(js.read_text())["sections"]["Content policy"]["rules"]
    capsys.readouterr()
    rc = audits_main(["report", "--model", str(tmp_path / "missing"), "--out", str(out)])
    err = capsys.readouterr().err
    assert rc != 0
    assert err.count("\n") == 1 and err.startswith("error:") and "missing" in err
