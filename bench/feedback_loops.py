"""Feedback loops, benchmarked: speed, and validity over independent worlds (issue 14).

    python bench/feedback_loops.py [--only speed|validity] [--worlds 5] [--rounds 10]
        [--users 300] [--speed-rounds 20] [--retrain-every 10] [--boost 1.0] [--markup 3.0]

**Speed** (``feedback_loops_speed.json``): the default synthetic data (600
users, 1,500 items) and the app's training config; one run of
``--speed-rounds`` rounds with every user and the statistics updated every
round (the target: <= 60 s on 2 CPU cores), the same with a full retraining of
towers and ranking stage every ``--retrain-every`` rounds, and the oracle.
The one-off training of the starting model is timed apart.

**Validity** (``feedback_loops_validity.json``): ``--worlds`` independent
worlds, each its own synthetic data (seed s, ``harm_engagement_boost=0``:
the model starts from data where nothing was planted), its own trained model,
advertiser deal and choices. In each, a *null* condition plants nothing and a
*planted* one plants the engagement boost in users' choices (``--boost``) and
an exploitative advertiser (``--markup``). A loop's effect is the run with
the loop on minus the same run with it off (same world, same seed), mean
over rounds 2..T; the interval is over worlds:

* engagement -> exposure, under the engagement objective: flagged share of
  exposure;
* bids -> traffic -> bids, under the profit objective: advertiser 0's share
  of the advertisers' traffic;
* homogenisation: the served pipeline learning from its own logs against the
  oracle that recommends by planted truth, at the last round.

Null: no false alarm (the interval does not lie above 0). Planted: the
effect appears with the right sign (the interval lies above 0). The speed
world (the demo data, whose boost of 0.5 is planted in the data too, so the
starting model already learned it) is run in both loops as well, 3 seeds,
reported as ``default_data``. Every figure is simulated.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from audits.simulation import ORACLE, SimulationConfig, Study, simulate, train_world  # noqa: E402
from audits.simulation_summary import homogenisation_gap, later_rounds, loop_effects  # noqa: E402
from recengine.data.synthetic import SyntheticConfig  # noqa: E402
from recengine.model_store import demo_train_config  # noqa: E402

RESULTS = ROOT / "bench" / "results"
LOOPS = {"engagement": ("engagement", "flagged_share"), "bids": ("profit", "exploit_share")}


def machine() -> dict:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"cpus": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "load_average_at_start": load,
            "date": time.strftime("%Y-%m-%d %H:%M")}


def loop_arms(rounds: int, users: int | None, planted: bool, boost: float | None,
              markup: float) -> dict[str, SimulationConfig]:
    """Per loop, the loop on and the same run with it off (the other loop off in both)."""
    arms = {}
    for loop, (objective, _) in LOOPS.items():
        on = SimulationConfig(rounds=rounds, n_users=users, objective=objective,
                              exploitative=planted, exploit_markup=markup,
                              boost=boost if planted else 0.0,
                              bid_loop=loop == "bids", engagement_loop=loop == "engagement")
        arms[f"{loop}/on"] = on
        arms[f"{loop}/off"] = dataclasses.replace(on, bid_loop=False, engagement_loop=False)
    return arms


def effects(study: Study) -> dict:
    """Each loop's effect (on minus off, rounds 2..T) and its growth, with intervals."""
    out = {}
    for loop, (_, measure) in LOOPS.items():
        effect = loop_effects(study, f"{loop}/on", f"{loop}/off")[measure]
        rounds = later_rounds(study)
        per_world = (study.per_seed(f"{loop}/on", measure, rounds)
                     - study.per_seed(f"{loop}/off", measure, rounds))
        out[loop] = {"measure": measure, "effect": effect.to_dict(),
                     "growth_loop_on": study.change(f"{loop}/on", measure).to_dict(),
                     "growth_loop_off": study.change(f"{loop}/off", measure).to_dict(),
                     "per_seed_effect": per_world.round(4).tolist()}
    return out


def speed(args, world, train_s: float, log) -> dict:
    stats = simulate(world, SimulationConfig(rounds=args.speed_rounds), 0, "statistics")
    log(f"{args.speed_rounds} rounds x {world.data.n_users} users, statistics every round: "
        f"{stats.seconds:.1f} s")
    retrain = simulate(world, SimulationConfig(rounds=args.speed_rounds,
                                               retrain_every=args.retrain_every), 0, "retrain")
    log(f"the same with retraining every {args.retrain_every} rounds ({retrain.retrains} "
        f"retrainings): {retrain.seconds:.1f} s")
    oracle = simulate(world, SimulationConfig(rounds=args.speed_rounds), 0, ORACLE, True)
    study = Study([stats, retrain, oracle])
    last = args.speed_rounds
    result = {
        "data": world.data.source, "users": world.data.n_users, "items": world.data.n_items,
        "rounds": last, "initial_training_seconds": train_s,
        "statistics_every_round": {"seconds": stats.seconds,
                                   "seconds_per_round": stats.seconds / last,
                                   "learned": stats.learned, "target_seconds": 60,
                                   "met": stats.seconds <= 60},
        f"retrain_every_{args.retrain_every}": {"seconds": retrain.seconds,
                                                "retrains": retrain.retrains,
                                                "learned": retrain.learned},
        "oracle_seconds": oracle.seconds,
        "homogenisation_last_round": {a: float(study.per_seed(a, "homogenisation", [last])
                                               .mean()) for a in study.arms},
        "simulated": True}
    return result


def validity(args, default_world, log) -> dict:
    runs, t0 = [], time.perf_counter()
    for s in range(args.worlds):
        t = time.perf_counter()
        world = train_world(SyntheticConfig(seed=s, harm_engagement_boost=0.0),
                            demo_train_config())
        for cond in ("null", "planted"):
            for name, cfg in loop_arms(args.rounds, args.users, cond == "planted", args.boost,
                                       args.markup).items():
                runs.append(simulate(world, cfg, s, f"{cond}/{name}"))
        served = SimulationConfig(rounds=args.rounds, n_users=args.users)
        runs.append(simulate(world, served, s, "served"))
        runs.append(simulate(world, served, s, ORACLE, oracle=True))
        log(f"world {s + 1}/{args.worlds} done in {time.perf_counter() - t:.0f} s")
    study = Study(runs)
    by_condition = {}
    for cond in ("null", "planted"):
        sub = Study([dataclasses.replace(r, arm=r.arm.split("/", 1)[1]) for r in runs
                     if r.arm.startswith(cond + "/")])
        by_condition[cond] = effects(sub)
    homog = homogenisation_gap(study, "served")
    default_runs = [simulate(default_world, cfg, seed, name) for seed in range(3)
                    for name, cfg in loop_arms(args.rounds, args.users, True, None,
                                               args.markup).items()]
    verdicts = {
        "no_false_alarm": {loop: by_condition["null"][loop]["effect"]["sign"] != 1
                           for loop in LOOPS},
        "planted_right_sign": {loop: by_condition["planted"][loop]["effect"]["sign"] == 1
                               for loop in LOOPS},
        "homogenisation_above_oracle": homog.sign == 1}
    return {"worlds": args.worlds, "rounds": args.rounds, "users": args.users,
            "planted": {"boost": args.boost, "exploit_markup": args.markup,
                        "exploit_margin": SimulationConfig().exploit_margin,
                        "exploit_harm": SimulationConfig().exploit_harm},
            "conditions": by_condition,
            "homogenisation_served_minus_oracle": homog.to_dict(),
            "homogenisation_per_world": {
                a: study.per_seed(a, "homogenisation", [args.rounds]).round(4).tolist()
                for a in ("served", ORACLE)},
            "default_data": {"data": default_world.data.source, "seeds": 3,
                             "boost": default_world.synthetic.harm_engagement_boost,
                             **effects(Study(default_runs))},
            "verdicts": verdicts, "seconds": time.perf_counter() - t0, "simulated": True}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", choices=["speed", "validity"])
    p.add_argument("--worlds", type=int, default=5)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--users", type=int, default=300)
    p.add_argument("--speed-rounds", type=int, default=20)
    p.add_argument("--retrain-every", type=int, default=10)
    p.add_argument("--boost", type=float, default=1.0)
    p.add_argument("--markup", type=float, default=3.0)
    args = p.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    def log(text: str) -> None:
        print(f"[{time.perf_counter() - start:6.0f} s] {text}", flush=True)

    info = machine()
    t = time.perf_counter()
    world = train_world(SyntheticConfig(), demo_train_config())
    train_s = time.perf_counter() - t
    log(f"trained the demo model in {train_s:.1f} s")
    if args.only != "validity":
        result = speed(args, world, train_s, log)
        (RESULTS / "feedback_loops_speed.json").write_text(
            json.dumps({"machine": info, **result}, indent=2, default=float))
        log("wrote bench/results/feedback_loops_speed.json")
    if args.only != "speed":
        out = validity(args, world, log)
        (RESULTS / "feedback_loops_validity.json").write_text(
            json.dumps({"machine": info, **out}, indent=2, default=float))
        log("wrote bench/results/feedback_loops_validity.json")
        for cond in ("null", "planted"):
            for loop in LOOPS:
                e = out["conditions"][cond][loop]["effect"]
                print(f"{cond:8s} {loop:11s} effect {e['mean']:+.4f} "
                      f"[{e['low']:+.4f}, {e['high']:+.4f}]")
        h = out["homogenisation_served_minus_oracle"]
        print(f"homogenisation served - oracle {h['mean']:+.4f} [{h['low']:+.4f}, "
              f"{h['high']:+.4f}]")
        print("verdicts:", json.dumps(out["verdicts"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
