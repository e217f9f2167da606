"""Batch jobs on Ray give exactly what the in-process engine and audits give.

One local Ray instance of 2 workers is shared by the module (start-up costs
10-20 s) and shut down after it; the jobs under test find it running and reuse
it. Every comparison is against the in-process call on the same bundle:
``Engine.recommend`` per user, the bundle's similar table, ``audit_bias``,
``audit_objectives``, ``audit_content_filter``, ``tradeoff_sweep`` and
``source_slot_shares`` over the same (all) users, and ``protocol_figures``.
"""

from __future__ import annotations

import json
import math
import operator
import os
import pickle
import subprocess
import sys
from dataclasses import asdict, replace

import numpy as np
import pandas as pd
import pytest

from audits.__main__ import main as audits_main
from audits.batch_audit import batch_audit, to_dict
from audits.bias import audit_bias
from audits.card_data import ReportConfig
from audits.card_format import jsonable
from audits.content_filter import audit_content_filter, block_every_label
from audits.objectives import ObjectiveAuditConfig, audit_objectives, candidate_pool
from audits.protocol import protocol_figures
from audits.sources import (
    merge_source_parts,
    source_parts,
    source_slot_shares,
    summarise_sources,
)
from audits.tradeoff import (
    merge_tradeoff_parts,
    summarise_tradeoff,
    tradeoff_parts,
    tradeoff_sweep,
    weight_grid,
)
from recengine.batch import BatchConfig, SideJob, light_engine, map_blocks, split_blocks
from recengine.batch.shipping import TowersNotShipped
from recengine.batch.sums import exact_partials, exact_total
from recengine.cli import main as recengine_main
from recengine.policy import ContentPolicy
from recengine.ranking import rank_candidates
from recengine.scoring import UserProfile
from recengine.serving import load_serving_engine
from recengine.subject import Subject
from tests.conftest import REPO_ROOT

ray = pytest.importorskip("ray")

K = 5
N_BOOT = 50


@pytest.fixture(scope="module")
def local_ray():
    """One quiet local Ray instance with 2 workers for the whole module."""
    from recengine.batch.runner import start_ray

    started = start_ray(BatchConfig(workers=2))
    yield
    if started:
        ray.shutdown()


@pytest.fixture(scope="module")
def engine(small_model_dir):
    return load_serving_engine(small_model_dir)


def plain(value) -> object:
    """A result's nested fields as JSON would hold them (numpy scalars as numbers)."""
    return json.loads(json.dumps(value, default=float))


def test_blocks_cover_every_id_once_in_order():
    blocks = split_blocks(10, 4)
    assert [b.tolist() for b in blocks] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert split_blocks(0, 4) == []
    with pytest.raises(ValueError, match="block size"):
        split_blocks(10, 0)


def test_batch_recommend_on_ray_equals_engine_recommend_for_every_user(
        local_ray, small_model_dir, engine, tmp_path):
    out = tmp_path / "rec"
    assert recengine_main(["batch", "recommend", "--model", str(small_model_dir), "--out", str(out),
                           "--k", str(K), "--block-size", "37"]) == 0
    table = pd.read_parquet(out / "recommendations")
    manifest = json.loads((out / "recommendations.batch.json").read_text())
    assert manifest["where"] == "ray local" and manifest["parts"] == 5  # 150 users / 37
    assert len(manifest["peak_rss_bytes"]) == 2  # both workers took blocks
    by_user = dict(tuple(table.groupby("user_id", sort=False)))
    ids = engine.data.users["user_id"].tolist()
    assert sorted(by_user) == sorted(ids)
    for uid in ids:
        result = engine.recommend(uid, K)
        rows = by_user[uid].sort_values("rank")
        assert rows["rank"].tolist() == [it.rank for it in result.items]
        assert rows["item_id"].tolist() == [it.item_id for it in result.items]
        assert rows["score"].tolist() == [it.score for it in result.items]
        assert rows["predicted_rating"].tolist() == [it.predicted_rating for it in result.items]
        assert rows["title"].tolist() == [it.title for it in result.items]
        assert [json.loads(s) for s in rows["sources"]] == \
            [plain([asdict(h) for h in it.sources]) for it in result.items]
        assert [json.loads(c) for c in rows["contributions"]] == \
            [plain(it.contributions) for it in result.items]
        first = rows.iloc[0]
        assert json.loads(first["stage_counts"]) == plain(result.stage_counts)
        assert json.loads(first["notes"]) == result.notes
        assert first["ordering_rule"] == result.ordering_rule
        assert first["intercept"] == result.intercept


def test_batch_recommend_in_process_writes_the_same_table(local_ray, small_model_dir, tmp_path):
    for where in ("none", "local"):
        assert recengine_main(["batch", "recommend", "--model", str(small_model_dir),
                               "--out", str(tmp_path / where), "--ray", where]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "none" / "recommendations"),
                                  pd.read_parquet(tmp_path / "local" / "recommendations"))


def test_batch_similar_on_ray_equals_the_bundles_table(local_ray, small_model_dir, small_trained,
                                                       tmp_path):
    bundle = small_trained[1]
    assert recengine_main(["batch", "similar", "--model", str(small_model_dir),
                           "--out", str(tmp_path), "--n", "7"]) == 0
    table = pd.read_parquet(tmp_path / "similar")
    ids = bundle.item_ids
    idx, dist = bundle.extras["similar_idx"][:, :7], bundle.extras["similar_dist"][:, :7]
    expected = pd.DataFrame({"item_id": np.repeat(ids, 7), "rank": np.tile(np.arange(1, 8),
                                                                           len(ids)),
                             "neighbour_id": ids[idx.ravel()],
                             "distance": dist.ravel().astype(np.float64)})
    pd.testing.assert_frame_equal(table, expected)


def in_process_figures(subject: Subject, cfg: ReportConfig) -> dict:
    """The in-process audits over every user: the reference the batch verb must equal."""
    every = replace(cfg, n_users=subject.data.n_users)
    objset = subject.objectives
    served_order = None if cfg.objective == "served" else objset.objective(cfg.objective,
                                                                           cfg.weights)
    bias = audit_bias(subject, every.bias_config(), served_order, every.policy_or_none)
    objectives = audit_objectives(objset, every.objective_config(), every.policy_or_none)
    content_policy = block_every_label(objset) if cfg.policy.is_empty else cfg.policy
    content = audit_content_filter(objset, content_policy, every.objective_config())
    tradeoff = tradeoff_sweep(objset, every.objective_config(), cfg.tradeoff_steps,
                              every.policy_or_none)
    sources = source_slot_shares(subject, np.arange(subject.data.n_users), cfg.k,
                                 every.policy_or_none, served_order)
    protocol = (protocol_figures(subject, cfg.k, cfg.n_boot, cfg.seed)
                if cfg.include_protocol else None)
    return {"bias": bias, "objectives": objectives, "content": content, "tradeoff": tradeoff,
            "sources": sources, "protocol": protocol}


def test_audits_batch_on_ray_equals_the_in_process_audit(local_ray, small_model_dir, tmp_path):
    out = tmp_path / "audit"
    assert audits_main(["batch", "--model", str(small_model_dir), "--out", str(out), "--k", str(K),
                        "--n-boot", str(N_BOOT)]) == 0
    doc = json.loads((out / "audit.json").read_text())
    subject = Subject.load(small_model_dir)
    ref = in_process_figures(subject, ReportConfig(k=K, n_boot=N_BOOT))
    assert doc["users"] == subject.data.n_users == 150
    assert doc["where"] == "ray local"
    assert doc["bias"]["summary"] == jsonable(ref["bias"].summary)
    assert doc["bias"]["groups"] == jsonable(ref["bias"].groups)
    assert doc["bias"]["gaps"] == jsonable(ref["bias"].gaps)
    assert doc["objectives"]["metrics"] == jsonable(ref["objectives"].metrics.reset_index())
    assert doc["objectives"]["overlap"] == jsonable(ref["objectives"].overlap.reset_index())
    content = doc["content_filter"]
    assert content["comparison"] == jsonable(ref["content"].comparison)
    assert content["cost"] == jsonable(ref["content"].cost)
    assert content["counts"] == jsonable(ref["content"].counts)
    assert content["amplification"] == jsonable(ref["content"].amplification.to_dict())
    assert content["counts"]["candidates_caught"] > 0, "every label blocked: something caught"
    # the sweep and the source shares over every user, the protocol once on a worker
    assert doc["tradeoff"] == jsonable(ref["tradeoff"])
    assert len(doc["tradeoff"]) == 1 + len(weight_grid(ReportConfig().tradeoff_steps))
    assert doc["sources"] == jsonable(ref["sources"])
    assert doc["sources"]["users"] == 150 and doc["sources"]["slots"] == 150 * K
    protocol = doc["protocol"]
    assert protocol["where"].startswith("ray local: one task beside the blocks (pid ")
    figures, uncertainty = ref["protocol"]
    # equal, not approximately: the worker runs the very call on the same arrays (its BLAS
    # one thread, as Ray sets it; this data's 300x300 matrices run on one thread anyway)
    assert protocol["figures"] == jsonable(figures)
    assert protocol["uncertainty"] == jsonable(uncertainty)
    assert {"popularity", "ease", "pipeline"} <= set(protocol["figures"])
    per_user = pd.read_parquet(out / "per_user.parquet")
    pd.testing.assert_frame_equal(per_user, ref["bias"].per_user.reset_index(drop=True),
                                  check_dtype=False)


def test_batch_audit_in_process_with_a_policy_and_another_order(small_model_dir):
    """The reference path (no Ray) under a content policy and the blend order, small blocks."""
    subject = Subject.load(small_model_dir)
    labels = sorted({t for v in subject.objectives.business.labels for t in str(v).split("|")
                     if t.strip()})
    cfg = ReportConfig(k=K, n_boot=N_BOOT, objective="blend",
                       policy=ContentPolicy(blocked_labels=tuple(labels[:1])),
                       include_protocol=False, tradeoff_steps=3)
    got = batch_audit(subject, cfg, BatchConfig(ray="none", block_size=16))
    ref = in_process_figures(subject, cfg)
    assert got.bias.summary == ref["bias"].summary
    pd.testing.assert_frame_equal(got.bias.gaps, ref["bias"].gaps)
    pd.testing.assert_frame_equal(got.objectives.metrics, ref["objectives"].metrics)
    pd.testing.assert_frame_equal(got.objectives.slots, ref["objectives"].slots)
    pd.testing.assert_frame_equal(got.content.comparison, ref["content"].comparison)
    pd.testing.assert_frame_equal(got.content.cost, ref["content"].cost)
    pd.testing.assert_frame_equal(got.content.actions, ref["content"].actions)
    assert got.content.counts == ref["content"].counts
    pd.testing.assert_frame_equal(got.tradeoff, ref["tradeoff"], check_exact=True)
    assert got.sources == ref["sources"]
    assert got.protocol is None
    doc = to_dict(got)
    assert doc["where"] == "none"
    assert doc["protocol"] == {"skipped": "left out (--no-protocol)"}


def test_the_verb_without_the_protocol_says_so(small_model_dir, tmp_path, capsys):
    out = tmp_path / "audit"
    assert audits_main(["batch", "--model", str(small_model_dir), "--out", str(out), "--k", str(K),
                        "--n-boot", "20", "--ray", "none", "--no-protocol"]) == 0
    doc = json.loads((out / "audit.json").read_text())
    assert doc["protocol"] == {"skipped": "left out (--no-protocol)"}
    assert doc["where"] == "none" and len(doc["tradeoff"]) == 16 and doc["sources"]["users"] == 150
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"wrote {out / 'audit.json'}")
    assert lines[1].startswith("  sources of the 750 shown slots: ")
    assert lines[2].startswith("  trade-off: 15 blend settings, ")
    assert lines[3] == "  offline protocol: left out (--no-protocol)"


def test_the_protocol_runs_once_in_process_too(small_model_dir):
    """``--ray none``: the protocol after the blocks, the same figures as the card's call."""
    subject = Subject.load(small_model_dir)
    got = batch_audit(subject, ReportConfig(k=K, n_boot=N_BOOT),
                      BatchConfig(ray="none", block_size=75))
    figures, uncertainty = protocol_figures(subject, K, N_BOOT, 0)
    assert got.protocol.where == "in-process, after the blocks"
    assert got.protocol.figures == figures and got.protocol.uncertainty == uncertainty
    assert got.protocol.seconds > 0


def test_the_engine_is_put_into_the_object_store_once(local_ray, engine, tmp_path,
                                                      monkeypatch):
    from recengine.batch.recommend import batch_recommend

    puts = []
    real_put = ray.put
    monkeypatch.setattr(ray, "put", lambda obj, **kw: puts.append(type(obj)) or
                        real_put(obj, **kw))
    batch_recommend(engine, tmp_path, K, config=BatchConfig(block_size=10))  # 15 tasks
    assert len(puts) == 1 and puts[0].__name__ == "Engine"


def test_the_shipped_engine_carries_no_keras_and_refuses_new_visitors(engine):
    shipped = light_engine(engine)
    assert shipped.scorer.item_vectors is engine.scorer.item_vectors  # shared, not copied
    with pytest.raises(TowersNotShipped, match="known users only"):
        shipped.recommend_new_user(UserProfile(genres=["Comedy"]))
    code = ("import pickle, sys; engine = pickle.loads(sys.stdin.buffer.read()); "
            "engine.recommend(int(engine.data.users['user_id'].iloc[0]), 5); "
            "print(sorted(m for m in ('keras', 'tensorflow') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(shipped),
                          capture_output=True, cwd=REPO_ROOT, check=True)
    assert done.stdout.decode().strip() == "[]"


def test_bad_options_give_one_line_and_keep_what_is_there(small_model_dir, tmp_path, capsys):
    assert recengine_main(["batch", "recommend", "--model", str(small_model_dir),
                           "--out", str(tmp_path), "--workers", "0"]) == 2
    assert capsys.readouterr().err.strip() == "error: workers must be at least 1, got 0"
    kept = tmp_path / "similar"
    kept.mkdir()
    (kept / "mine.txt").write_text("keep me")
    assert recengine_main(["batch", "similar", "--model", str(small_model_dir), "--out",
                           str(tmp_path), "--ray", "none"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "already exists" in err and "\n" not in err
    assert (kept / "mine.txt").read_text() == "keep me"
    assert recengine_main(["batch", "similar", "--model", str(small_model_dir), "--out",
                           str(tmp_path / "c"), "--ray", "127.0.0.1:1"]) == 2
    assert capsys.readouterr().err.startswith("error: cannot reach Ray at '127.0.0.1:1': ")
    assert audits_main(["batch", "--model", str(tmp_path / "nope"), "--out",
                        str(tmp_path / "a"), "--ray", "none"]) == 2
    assert "no such model directory" in capsys.readouterr().err


def test_the_apps_modules_do_not_import_ray():
    code = ("import sys, ui.state, recengine, audits, recengine.batch, audits.batch_audit, "
            "audits.cli_batch, audits.__main__; "
            "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=REPO_ROOT,
                          check=True, env=env)
    assert done.stdout.decode().strip().splitlines()[-1] == "[]"


def test_a_local_instance_starts_and_stops_with_no_log_spam(small_model_dir, small_trained,
                                                           tmp_path):
    """Its own process, its own Ray: one 'wrote' line, nothing on stderr, run from elsewhere."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = str(REPO_ROOT)
    done = subprocess.run([sys.executable, "-m", "recengine", "batch", "similar", "--model",
                           str(small_model_dir), "--out", str(tmp_path), "--workers", "1"],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.startswith(f"wrote {tmp_path / 'similar'} (") and \
        done.stdout.count("\n") == 1
    table = pd.read_parquet(tmp_path / "similar")
    assert len(table) == small_trained[1].extras["similar_idx"].size  # the whole table


# ----- the per-block split of the sweep and the source shares, by hand ----------------
def test_exact_partials_add_up_across_blocks_to_the_one_pass_sum():
    rng = np.random.default_rng(0)
    values = rng.normal(3, 1, 5000) * 10.0 ** rng.integers(-8, 8, 5000)  # hard to round
    whole = math.fsum(values.tolist())
    for n_blocks in (1, 2, 7, 5000):
        parts = [exact_partials(b) for b in np.array_split(values, n_blocks)]
        assert exact_total(parts) == whole
    assert exact_partials([]) == () and exact_total([]) == 0.0
    assert exact_partials([0.1, 0.2, -0.3]) == (pytest.approx(2.7755575615628914e-17),)
    assert math.isnan(exact_total([exact_partials([1.0, float("nan")])]))


def test_two_blocks_of_the_sweep_and_the_sources_add_up_to_one(small_model_dir):
    """The per-block split by hand: users 0-59 and 60-149 merged equal one block of all."""
    subject = Subject.load(small_model_dir)
    objset, engine = subject.objectives, subject.served
    users = np.arange(subject.data.n_users)
    a, b = users[:60], users[60:]
    pool_a, pool_b = candidate_pool(engine, a), candidate_pool(engine, b)
    whole = candidate_pool(engine, users)
    steps = 3
    ta, tb = tradeoff_parts(objset, pool_a, K, steps), tradeoff_parts(objset, pool_b, K, steps)
    merged = merge_tradeoff_parts([ta, tb])
    one = tradeoff_parts(objset, whole, K, steps)
    assert merged.slots == one.slots == [ta.slots[o] + tb.slots[o] for o in range(7)]
    assert one.slots[0] == 150 * K
    pd.testing.assert_frame_equal(summarise_tradeoff(merged), summarise_tradeoff(one),
                                  check_exact=True)
    # the served row's rating, by hand: every shown slot's predicted rating, fsum / slots
    served = objset.objective("served")
    ratings = [c.ratings[rank_candidates(c, K, served)] for c in whole.candidates]
    by_hand = math.fsum(np.concatenate(ratings).tolist()) / (150 * K)
    sweep = summarise_tradeoff(merged)
    assert sweep.iloc[0]["mean_predicted_rating"] == by_hand
    assert sweep.equals(tradeoff_sweep(objset, ObjectiveAuditConfig(n_users=150, k=K), steps))
    # sources: counts of two blocks added by hand equal one block's
    sa, sb = source_parts(engine, pool_a, K), source_parts(engine, pool_b, K)
    one_s = source_parts(engine, whole, K)
    assert {s: sa.counts[s] + sb.counts[s] for s in one_s.counts} == one_s.counts
    assert (sa.slots + sb.slots, sa.several + sb.several, sa.users + sb.users) == \
        (one_s.slots, one_s.several, one_s.users)
    assert (one_s.slots, one_s.users) == (150 * K, 150)
    assert summarise_sources(merge_source_parts([sa, sb])) == summarise_sources(one_s)


def test_the_pools_sources_are_the_served_lists_sources_for_every_user(small_model_dir):
    """What the source shares count is what Engine.recommend serves, item and source, for
    every user: no policy and the served order, then a policy under the blend order."""
    subject = Subject.load(small_model_dir)
    engine, objset = subject.served, subject.objectives
    labels = sorted({t for v in objset.business.labels for t in str(v).split("|")
                     if t.strip()})
    ids = engine.data.items["item_id"].to_numpy()
    users = np.arange(engine.data.n_users)
    cases = ((None, None), (ContentPolicy(blocked_labels=tuple(labels[:2])),
                            objset.objective("blend")))
    for policy, objective in cases:
        pool = candidate_pool(engine, users, policy)
        for u, cands in zip(users.tolist(), pool.candidates, strict=True):
            uid = int(engine.data.users["user_id"].iloc[u])
            result = engine.recommend(uid, K, policy, objective)
            pos = rank_candidates(cands, K, objective or engine.served_objective)
            assert ids[cands.items[pos]].tolist() == [it.item_id for it in result.items]
            assert [cands.hits[p] for p in pos.tolist()] == [it.sources for it in result.items]
        figures = source_slot_shares(subject, users, K, policy, objective, pool=pool)
        assert figures == source_slot_shares(subject, users, K, policy, objective)
        counted: dict[str, int] = {}
        for uid in engine.data.users["user_id"].tolist():
            for it in engine.recommend(int(uid), K, policy, objective).items:
                for src in {h.source for h in it.sources}:
                    counted[src] = counted.get(src, 0) + 1
        assert {r["source"]: r["slots"] for r in figures["sources"] if r["slots"]} == counted


def test_a_side_job_runs_once_beside_the_blocks(local_ray):
    """``fn(shared, block)`` per block and ``side(shared, *args)`` once, both on workers
    (operator.add: workers import a task's function by name, and this module is not
    importable there)."""
    blocks = split_blocks(10, 3)
    run = map_blocks(operator.add, 100, blocks, BatchConfig(),
                     side=SideJob(operator.add, (5,)))
    assert [r.tolist() for r in run.results] == [[100, 101, 102], [103, 104, 105],
                                                 [106, 107, 108], [109]]
    assert run.side.value == 105 and run.side.pid != os.getpid()  # on a worker
    assert run.side.pid in run.peak_rss_bytes and run.side.seconds >= 0
    here = map_blocks(operator.add, 100, blocks, BatchConfig(ray="none"),
                      side=SideJob(operator.add, (5,)))
    assert here.side.value == 105 and here.side.pid == os.getpid()
    assert map_blocks(operator.add, 0, blocks, BatchConfig(ray="none")).side is None


def test_a_batch_worker_imports_no_keras_for_the_whole_audit():
    """The protocol and the source shares run on workers: their modules stay Keras-free."""
    code = ("import sys, audits.batch_audit, audits.protocol, audits.sources; "
            "print(sorted(m for m in ('keras', 'tensorflow') if m in sys.modules))")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=REPO_ROOT,
                          check=True, env=env)
    assert done.stdout.decode().strip().splitlines()[-1] == "[]"
