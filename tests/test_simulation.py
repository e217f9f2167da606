"""The feedback-loop simulator: figures by hand, validity on small fixed-seed runs, CLI, page.

The validity tests are small versions of ``bench/feedback_loops.py``: one
small synthetic world (boost 0 in its data, so the model never saw a planted
effect; more sponsored and labelled items than the demo, so a few rounds of
100 users see enough of them) and a tiny model; "planted" runs plant a strong
engagement boost in users' choices (flagged items pull 3x) and an
exploitative advertiser (5x markup) in the market, "null" runs plant neither.
Each loop is measured as the loop on minus the same run with it off (same
seeds), over rounds 2..T.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse as sp
from streamlit.testing.v1 import AppTest

from audits.__main__ import main as audits_main
from audits.simulation import Run, SimulationConfig, Study, simulate, study_arms, train_world
from audits.simulation_metrics import (
    coverage,
    exposure_gini,
    homogenisation,
    interval,
    mean_ild,
    pick_share,
    slot_share,
)
from audits.simulation_summary import cost_table, homogenisation_gap, loop_effects, summarise
from audits.simulation_world import ChoiceModel, Market, NoGroundTruth, choose, truth_for
from recengine.bundle import save_bundle
from recengine.config import TrainConfig
from recengine.data.synthetic import SyntheticConfig
from recengine.model import ModelConfig, TowerConfig
from tests.factories import tiny_dataset

ROOT = Path(__file__).resolve().parents[1]
#: tiny towers, no ranking stage: the loops act through engagement and profit orderings,
#: which read P(watch) and the business figures, not the ranking stage
TINY = TrainConfig(epochs=2, batch_size=256, patience=0, ranking_stage=False,
                   model=ModelConfig(user_tower=TowerConfig(hidden=(32,)),
                                     item_tower=TowerConfig(hidden=(32,))))
WORLD = SyntheticConfig(n_users=150, n_items=400, seed=0, harm_engagement_boost=0.0,
                        sponsored_share=0.15, label_prevalence=0.04)
ROUNDS, USERS = 4, 100


# ----- figures by hand --------------------------------------------------------------------
def test_exposure_figures_by_hand():
    lists = np.array([[0, 1], [0, -1]])
    # exposure counts [2, 1, 0]: sum |x_i - x_j| over ordered pairs 8, / (2 n^2 mean) = 8/18
    assert exposure_gini(lists, 3) == pytest.approx(8 / 18)
    assert coverage(lists, 3) == pytest.approx(2 / 3)
    flagged = np.array([True, False, False])
    assert slot_share(lists, flagged) == pytest.approx(2 / 3)
    assert slot_share(lists, flagged, among=np.array([False, True, True])) == 0.0
    assert np.isnan(slot_share(np.full((2, 2), -1), flagged))


def test_pick_shares_by_hand():
    picked = np.array([0, 2, -1, 3])
    mine = np.array([True, False, False, True])
    sponsored = np.array([True, False, True, True])
    assert pick_share(picked, mine) == pytest.approx(2 / 3)
    assert pick_share(picked, mine, among=sponsored) == pytest.approx(2 / 3)
    assert np.isnan(pick_share(np.array([-1, 1]), mine, among=sponsored))


def test_homogenisation_is_the_mean_pairwise_jaccard():
    consumed = sp.csr_matrix(np.array([[1, 1, 0], [0, 1, 1], [0, 0, 0], [0, 0, 0]]))
    # pairs: (0,1) 1/3, (0,2) 0, (0,3) 0, (1,2) 0, (1,3) 0; (2,3) both empty: left out
    assert homogenisation(consumed) == pytest.approx((1 / 3) / 5)
    assert homogenisation(sp.csr_matrix(np.ones((3, 2)))) == 1.0
    assert np.isnan(homogenisation(sp.csr_matrix((2, 3))))


def test_intra_list_diversity_and_intervals_by_hand():
    factors = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0]])
    # list (0, 1): orthogonal -> 1; list (0, 2): same direction -> 0
    assert mean_ild(np.array([[0, 1], [0, 2]]), factors) == pytest.approx(0.5)
    mean, low, high = interval([1.0, 2.0, 3.0])
    half = 4.302652729911275 / np.sqrt(3)  # t(0.975, 2) x sd 1 / sqrt(3)
    assert (mean, low, high) == pytest.approx((2.0, 2.0 - half, 2.0 + half))
    assert interval([5.0]) == (5.0, 5.0, 5.0)


def test_choice_model_respects_empty_slots_and_position_bias():
    rng = np.random.default_rng(0)
    pull = np.tile([0.0, 0.0, np.nan], (20_000, 1))
    slot = choose(rng, pull, ChoiceModel(position_decay=1.0, no_choice=-50.0))
    assert set(np.unique(slot)) == {0, 1}, "never an empty slot, always a pick"
    # weights 1 and 1/2: the top slot is picked two times in three
    assert (slot == 0).mean() == pytest.approx(2 / 3, abs=0.01)
    none = choose(rng, np.zeros((500, 2)), ChoiceModel(no_choice=50.0))
    assert (none == -1).all(), "an overwhelming outside option: nobody picks"


def test_bids_rise_with_the_profit_traffic_brought():
    world = SimpleNamespace(business=SimpleNamespace(price=np.array([10.0, 10.0, 4.0, 1.0])))
    market = Market(owner=np.array([0, 0, 1, -1]), bids=np.array([1.0, 1.0]),
                    margin=np.array([0.5, 0.5, 0.5, 0.1]), harm=np.zeros(4),
                    exploitative=True, markup=np.array([3.0, 3.0, 1.0, 1.0]))
    # advertiser 0 earns 10 x 0.5 x 3 = 15 per click, twice; advertiser 1 earns 2 once
    profit = market.update_bids(world, np.array([0, 1, 2, 3, -1]), n_users=10, reinvest=1.0,
                                max_bid=2.5)
    assert profit.tolist() == [30.0, 2.0]
    assert market.bids.tolist() == pytest.approx([2.5, 1.2]), "1 + 30/10 capped; 1 + 2/10"
    assert market.item_bids().tolist() == pytest.approx([2.5, 2.5, 1.2, 0.0])


def test_study_changes_and_gaps_by_hand():
    cfg = SimulationConfig(rounds=2)

    def run(arm: str, seed: int, values: list[float]) -> Run:
        return Run(arm, seed, cfg, [{"round": t + 1, "flagged_share": v}
                                    for t, v in enumerate(values)], [])

    study = Study([run("a", 0, [0.1, 0.3]), run("a", 1, [0.1, 0.5]),
                   run("b", 0, [0.1, 0.1]), run("b", 1, [0.1, 0.2])])
    change = study.change("a", "flagged_share")
    assert change.mean == pytest.approx(0.3) and change.n == 2
    gap = study.gap("a", "b", "flagged_share", [2])
    assert gap.mean == pytest.approx(0.25)
    # differences 0.2 and 0.3: sd 0.0707, t(0.975, 1) = 12.706, half-width 12.706 x 0.05
    assert (gap.low, gap.high) == pytest.approx((0.25 - 0.6353, 0.25 + 0.6353), abs=1e-4)
    assert gap.sign == 0, "two seeds this far apart show no effect"


def test_arms_add_single_mitigations_only_when_several_are_on():
    one = SimulationConfig(refuse_exploitative=True)
    assert list(study_arms(one)) == ["unmitigated", "mitigated"]
    both = dataclasses.replace(one, diversity=0.3)
    assert list(study_arms(both)) == ["unmitigated", "mitigated", "only refuse",
                                      "only diversity"]
    assert study_arms(both)["only diversity"].mitigations == ["diversity"]
    with pytest.raises(ValueError, match="objective"):
        SimulationConfig(objective="clicks")


def test_real_data_has_no_ground_truth():
    with pytest.raises(NoGroundTruth, match="planted truth"):
        truth_for(tiny_dataset())


# ----- validity: small fixed-seed versions of the bench -----------------------------------
@pytest.fixture(scope="module")
def world():
    return train_world(WORLD, TINY)


def _loop_study(world, objective: str, planted: bool, loop: str, seeds: int) -> Study:
    base = SimulationConfig(rounds=ROUNDS, n_users=USERS, objective=objective,
                            exploitative=planted, exploit_markup=5.0,
                            boost=2.0 if planted else 0.0,
                            bid_loop=loop == "bids", engagement_loop=loop == "engagement")
    off = dataclasses.replace(base, bid_loop=False, engagement_loop=False)
    return Study([simulate(world, cfg, seed, arm) for seed in range(seeds)
                  for arm, cfg in (("on", base), ("off", off))])


@pytest.mark.parametrize("planted", [False, True], ids=["null", "planted"])
def test_engagement_loop_amplifies_flagged_items_only_when_planted(world, planted):
    # 8 seeds: with 3, the null arm's interval excluded 0 once the item-model source
    # joined retrieval (+0.6 points [+0.3, +1.0]); over 8 it is +1.3 [-0.1, +2.7]
    effect = loop_effects(_loop_study(world, "engagement", planted, "engagement", 8),
                          "on", "off")["flagged_share"]
    if planted:
        assert effect.sign == 1, f"the planted boost is amplified: {effect}"
    else:
        assert effect.sign != 1, f"no false alarm without a planted boost: {effect}"


@pytest.mark.parametrize("planted", [False, True], ids=["null", "planted"])
def test_bid_loop_amplifies_the_exploitative_advertiser_only_when_planted(world, planted):
    effect = loop_effects(_loop_study(world, "profit", planted, "bids", 4),
                          "on", "off")["exploit_share"]
    if planted:
        assert effect.sign == 1, f"the exploitative advertiser gains traffic: {effect}"
    else:
        assert effect.sign != 1, f"no false alarm without an exploitative one: {effect}"


def test_learning_from_own_feedback_homogenises_more_than_the_oracle(world):
    # ranked by predicted rating, as Chaney et al.'s recommenders were (the tiny model
    # here has no ranking stage; bench/feedback_loops.py measures the served pipeline)
    cfg = SimulationConfig(rounds=ROUNDS, n_users=USERS, objective="rating")
    runs = [simulate(world, cfg, seed, arm, oracle=arm == "oracle")
            for seed in range(3) for arm in ("system", "oracle")]
    study = Study(runs)
    gap = homogenisation_gap(study, "system")
    assert gap.sign == 1, f"Chaney et al.: above the oracle's homogenisation: {gap}"
    system = study.run("system")
    assert any("engine rebuilt" in s for s in system.learned)
    assert all(np.isfinite(f["utility"]) for f in system.figures)


def test_mitigations_cut_their_loops_and_cost_is_stated(world):
    cfg = SimulationConfig(rounds=3, n_users=60, objective="blend", weights=(0.0, 1.0, 1.0),
                           boost=1.0, refuse_exploitative=True, content_filter=True)
    runs = [simulate(world, c, 0, arm) for arm, c in study_arms(cfg).items()]
    study = Study(runs)
    mitigated = study.run("mitigated")
    assert all(f["flagged_share"] == 0.0 for f in mitigated.figures), "the policy removes them"
    costs = cost_table(study, "blend")
    assert set(costs["arm"]) == {"mitigated", "only refuse", "only filter"}
    assert {"watch minutes per user", "revenue per user (price x margin + bid of each pick)",
            "mean rating users gave their picks"} == set(costs["figure"])
    text = " ".join(summarise(study, "blend"))
    assert text.startswith("Simulated:") and "Without mitigation" in text


# ----- the CLI and the page ---------------------------------------------------------------
def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "audits", "simulate", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=180, env=env)


def test_cli_simulates_a_saved_model_and_writes_json(world, tmp_path):
    model = tmp_path / "model"
    save_bundle(world.bundle, model)
    out = tmp_path / "sim.json"
    done = _cli("--model", str(model), "--rounds", "2", "--seeds", "1", "--users", "40",
                "--filter", "--json", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["simulated"] is True
    assert set(result["arms"]) == {"unmitigated", "mitigated", "oracle"}
    assert {r["round"] for r in result["rounds"]} == {1, 2}
    assert result["summary"][0].startswith("Simulated:")


def test_cli_refuses_data_without_planted_truth(ml_100k_fixture_path, capsys):
    assert audits_main(["simulate", "--data", f"movielens-100k:{ml_100k_fixture_path}"]) == 2
    assert "needs synthetic data" in capsys.readouterr().err


def test_page_runs_the_simulation_and_labels_it_simulated(app_env):
    at = AppTest.from_file(str(ROOT / "pages" / "10_Feedback_loops.py"), default_timeout=240)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Feedback loops"
    at.number_input(key="fl_rounds").set_value(2)
    at.number_input(key="fl_seeds").set_value(2)
    at.number_input(key="fl_users").set_value(30)
    at.button(key="fl_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    md = " ".join(el.value for el in at.markdown).replace("\\", "")  # unescape the text
    assert "Simulated: 2 rounds, 2 seeds" in md
    assert "engine rebuilt on the logged history" in md
    assert len(at.get("plotly_chart")) >= 7, "one chart per measure"
    assert all("simulated" in h.value for h in at.subheader)
    assert at.dataframe, "the cost table"


def test_page_on_real_data_asks_for_a_synthetic_stand_in(app_env, ml_100k_fixture_path):
    at = AppTest.from_file(str(ROOT / "pages" / "10_Feedback_loops.py"), default_timeout=120)
    at.session_state["data_choice"] = f"movielens-100k:{ml_100k_fixture_path}"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "needs planted truth" in at.info[0].value
    assert at.button(key="fl_use_synthetic").label.startswith("Use a synthetic data set")
