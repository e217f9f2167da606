"""The popularity penalty: its part by hand, exact breakdowns, the choice rule, coverage."""

import numpy as np
import pandas as pd
import pytest

from recengine.popularity_penalty import (
    PENALTY_PART,
    PenalisedStage,
    PopularityPenalty,
    PopularityPenaltyConfig,
    choose_strength,
    load_penalty,
    reference_coverage,
    top_items,
    with_penalty,
)
from recengine.ranking_stage import load_ranking_stage
from recengine.reranker import FEATURE_WORDS, FEATURES, fit_reranker
from recengine.reranker_training import (
    RerankerConfig,
    StageData,
    choose_penalty,
    choose_stage,
    cross_validate,
    penalty_figures,
)

POP = FEATURES.index("log_popularity")


def _features(pop) -> np.ndarray:
    x = np.zeros((len(pop), len(FEATURES)))
    x[:, POP] = pop
    return x


def test_the_penalty_part_by_hand():
    x = _features([0.0, 1.0, 2.0])
    pen = PopularityPenalty.fitted(0.5, x)
    std = np.sqrt(2 / 3)  # population spread of 0, 1, 2
    assert pen.mean == 1.0 and pen.std == pytest.approx(std)
    np.testing.assert_allclose(pen.part(x), [0.5 / std, 0.0, -0.5 / std])
    assert with_penalty("stage", PopularityPenalty(0.0, 1.0, 1.0)) == "stage"  # 0: no part


def _stage_and_x(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(400, len(FEATURES)))
    y = (x[:, 0] + x[:, POP] + rng.logistic(size=400) > 0).astype(float)
    return fit_reranker(x, y), x


def test_a_penalised_stage_still_sums_exactly_and_names_the_penalty():
    base, x = _stage_and_x()
    stage = PenalisedStage(base, PopularityPenalty.fitted(0.3, x))
    parts = stage.contributions(x[:7])
    assert stage.part_names == (*FEATURES, PENALTY_PART) and parts.shape == (7, len(FEATURES) + 1)
    np.testing.assert_allclose(parts.sum(axis=1) + stage.intercept, stage.score(x[:7]),
                               atol=1e-12)
    # by hand: the base's score less 0.3 x the standardised log popularity
    z = (x[:7, POP] - x[:, POP].mean()) / x[:, POP].std()
    np.testing.assert_allclose(stage.score(x[:7]), base.score(x[:7]) - 0.3 * z, atol=1e-12)
    np.testing.assert_allclose(parts[:, -1], -0.3 * z, atol=1e-12)
    assert stage.weight(PENALTY_PART) == -0.3 and PENALTY_PART in FEATURE_WORDS
    imp = stage.importance()
    assert sum(imp.values()) == pytest.approx(1.0)
    assert imp[PENALTY_PART] == pytest.approx(0.3 / (np.abs(base.weights).sum() + 0.3))
    assert stage.explain()[PENALTY_PART] == -0.3


def test_the_penalty_round_trips_through_the_bundle_arrays():
    base, x = _stage_and_x(1)
    stage = PenalisedStage(base, PopularityPenalty.fitted(0.2, x))
    again = load_ranking_stage(stage.to_arrays())
    assert isinstance(again, PenalisedStage)
    np.testing.assert_array_equal(again.score(x), stage.score(x))
    # a bundle saved without a penalty loads as the bare stage
    assert load_penalty(base.to_arrays()) is None
    assert load_ranking_stage(base.to_arrays()).part_names == FEATURES


def test_the_rule_picks_the_planted_best_feasible_strength():
    cfg = PopularityPenaltyConfig(strengths=(0.0, 0.1, 0.2, 0.3), coverage_margin=1.05,
                                  max_ndcg_loss=0.1)
    figs = {0.0: {"ndcg@10": 0.100, "coverage@10": 0.050},
            0.1: {"ndcg@10": 0.099, "coverage@10": 0.052},  # below 1.05 x 0.05
            0.2: {"ndcg@10": 0.098, "coverage@10": 0.054},  # feasible, best NDCG of those
            0.3: {"ndcg@10": 0.080, "coverage@10": 0.070}}  # costs 20%: not allowed
    strength, rule = choose_strength(figs, 0.05, cfg)
    assert strength == 0.2 and "best validation NDCG" in rule
    # nothing reaches the target within the loss: the most coverage within it
    strength, rule = choose_strength(figs, 0.06, cfg)
    assert strength == 0.2 and "no strength reached" in rule
    # a feasible 0 stays 0
    assert choose_strength(figs, 0.01, cfg)[0] == 0.0


def _hand_data() -> StageData:
    # two users, three candidates each; item 5 is the popular one both would see first
    x = _features([3.0, 1.0, 0.0, 3.0, 1.0, 0.0])
    return StageData(x, np.array([1.0, 0, 0, 0, 1, 0]), np.array([3, 3]), np.array([1, 1]),
                     np.array([5, 6, 7, 5, 8, 9]), n_items=10, reference_coverage=0.2)


def test_coverage_and_the_figures_of_each_strength_by_hand():
    data = _hand_data()
    scores = np.array([2.0, 1.5, 0.0, 2.0, 1.9, 0.0])
    # top 1 of each user: item 5 twice -> 1 distinct item of 10
    assert data.coverage(scores, k=1) == 0.1
    assert top_items(scores, data.items, data.groups, 2).tolist() == [5, 6, 8]
    figs = penalty_figures(scores, data, (0.0, 1.0), k=1)
    # strength 1: the part is -(pop - 4/3) / std; std of (3, 1, 0) twice
    std = np.std([3.0, 1, 0])
    pen = -(np.array([3.0, 1, 0]) - 4 / 3) / std
    s1 = scores[:3] + pen  # user 0: item 6 now leads (1.5 + 0.15 > 2 - 0.76)
    assert np.argmax(s1) == 1
    assert figs[0.0]["recall@1"] == 0.5 and figs[0.0]["coverage@1"] == 0.1
    assert figs[1.0]["recall@1"] == 0.5  # user 0 loses its hit, user 1 gains item 8
    assert figs[1.0]["coverage@1"] == 0.2
    choice = choose_penalty(scores, data, PopularityPenaltyConfig(strengths=(0.0, 1.0),
                                                                  coverage_margin=1.0))
    assert choice.reference_coverage == 0.2 and set(choice.validation) == {"0", "1"}


def test_the_stage_choice_carries_the_chosen_penalty():
    rng = np.random.default_rng(3)
    n_users, per = 60, 20
    x = rng.normal(size=(n_users * per, len(FEATURES)))
    y = (x[:, 0] + rng.logistic(size=len(x)) > 1.5).astype(float)
    items = rng.integers(0, 200, len(x))
    data = StageData(x, y, np.full(n_users, per), np.maximum(
        np.add.reduceat(y, np.arange(0, len(x), per)).astype(np.int64), 1), items, 200, 0.01)
    cfg = RerankerConfig(stages=("logistic",), folds=3)
    fitted = choose_stage(data, cfg)
    assert fitted.penalty is not None
    figs = fitted.penalty.validation
    # strength 0's figures are the stage's own cross-validation
    assert figs["0"]["ndcg@10"] == pytest.approx(cross_validate("logistic", data, cfg)["ndcg@10"])
    meta = fitted.metadata()["popularity_penalty"]
    assert meta["strength"] == fitted.penalty.strength
    if fitted.penalty.strength:
        assert isinstance(fitted.stage, PenalisedStage)
    # without the needed inputs (no items), no penalty is chosen
    bare = StageData(x, y, data.groups, data.n_relevant)
    assert choose_stage(bare, cfg).penalty is None


def test_reference_coverage_matches_an_independent_ease():
    rng = np.random.default_rng(4)
    n_users, n_items = 12, 15
    rows = [(u, i) for u in range(n_users) for i in rng.choice(n_items, 5, replace=False)]
    history = pd.DataFrame(rows, columns=["u", "i"])
    x = np.zeros((n_users, n_items))
    x[history["u"], history["i"]] = 1
    # EASE by hand: B = I - P diag(1/diag P), P = inv(X'X + 300 I), diag(B) = 0
    g = x.T @ x + 300 * np.eye(n_items)
    p = np.linalg.inv(g)
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0)
    s = x @ b
    s[x > 0] = -np.inf
    users = np.arange(0, n_users, 2)
    shown = {int(j) for u in users for j in np.argsort(-s[u], kind="stable")[:3]}
    got = reference_coverage(history, users, n_items, n_users, k=3)
    assert got == len(shown) / n_items


def test_the_served_list_carries_the_penalty_as_its_own_exact_part(small_trained):
    """recommend, the batch path and a visitor's list all go through the penalised stage."""
    from recengine.counterfactual import score_breakdown
    from recengine.engine import Engine
    from recengine.scoring import UserProfile
    from recengine.split import temporal_split

    data, bundle = small_trained
    train = temporal_split(data.interactions).train
    engine = Engine.build(data, bundle, history=train)
    base = engine.reranker.base if isinstance(engine.reranker, PenalisedStage) \
        else engine.reranker
    assert base is not None  # either stage: the penalty rides on any
    penalty = PopularityPenalty(0.7, 2.0, 1.5)
    engine.reranker = PenalisedStage(base, penalty)
    counts = np.bincount(engine.history["i"], minlength=data.n_items)
    ids = data.items["item_id"].to_numpy()
    for user_id in data.users["user_id"].iloc[:5].tolist():
        result = engine.recommend(user_id, 10)
        u = int(data.user_index(user_id)[0])
        assert [ids[j] for j in engine.recommend_topk_batch([u], 10)[0]] == \
            [it.item_id for it in result.items]
        for it in result.items:
            assert sum(it.contributions.values()) + result.intercept == \
                pytest.approx(it.score, abs=1e-9)
            j = int(data.item_index(it.item_id)[0])
            # by hand: -0.7 x (log1p(train count) - 2.0) / 1.5
            assert it.contributions[PENALTY_PART] == \
                pytest.approx(-0.7 * (np.log1p(counts[j]) - 2.0) / 1.5, abs=1e-12)
            b = score_breakdown(it, result.intercept, engine.reranker)
            part = next(p for p in b.parts if p.feature == PENALTY_PART)
            assert part.weight == -0.7 and part.words == FEATURE_WORDS[PENALTY_PART]
    visitor = engine.recommend_new_user(UserProfile(ratings={int(ids[0]): 5.0,
                                                             int(ids[3]): 4.0}), k=10)
    for it in visitor.items:
        assert sum(it.contributions.values()) + visitor.intercept == \
            pytest.approx(it.score, abs=1e-9)
    assert "penalty on how many people watched it" in engine.served_objective.rule
    assert "popularity penalty" in engine.served_objective.score_meaning


def test_no_reference_above_the_item_limit_means_no_penalty(small_trained):
    from recengine.engine import Engine
    from recengine.reranker_training import engine_stage_data
    from recengine.split import temporal_split

    data, bundle = small_trained
    split = temporal_split(temporal_split(data.interactions).train)
    engine = Engine.build(data, bundle, history=split.train)
    small = RerankerConfig(penalty=PopularityPenaltyConfig(max_reference_items=5))
    assert engine_stage_data(engine, split.test, small).reference_coverage is None
    full = engine_stage_data(engine, split.test, RerankerConfig())
    assert full.reference_coverage is not None and full.items is not None
    assert len(full.items) == len(full.y) and full.n_items == data.n_items
