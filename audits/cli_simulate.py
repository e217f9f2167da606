"""``python -m audits simulate [--model DIR | --data SPEC] --rounds T [--json [FILE]] [...]``.

The feedback-loop simulator from the terminal. Which system it simulates:

* ``--model DIR``: that bundle, on the data its metadata names (refused unless
  it is synthetic: choices need planted truth, regenerated from the data's
  spec and checked against its fingerprint); retraining reuses its config.
* otherwise ``--data SPEC`` (default ``synthetic``): the app's model for that
  data, loaded from or trained into the app's model store with the app's
  training config (``$RECENGINE_HOME``, ``$RECENGINE_TRAIN``), so the terminal
  and the Feedback loops page simulate the same system.

It runs the unmitigated arm, the mitigated arm when a mitigation is on (and
each mitigation alone when several are), and the oracle, over ``--seeds``
seeds. Without ``--json`` it prints a per-round table and the plain-words
summary; ``--json`` prints the study as JSON, ``--json FILE`` writes it there.
Heavy modules are imported inside :func:`run_simulate`, so ``python -m audits
--help`` and ``report`` never load Keras for this verb.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from recengine.objectives import BASE_OBJECTIVES, DEFAULT_WEIGHTS, OBJECTIVES

from .simulation_config import SimulationConfig


def add_simulate_parser(sub) -> argparse.ArgumentParser:
    """Register the ``simulate`` verb on the ``python -m audits`` subparsers."""
    p = sub.add_parser("simulate", help="simulate feedback loops on synthetic data (simulated)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--model", help="bundle directory (its data must be synthetic)")
    src.add_argument("--data", default="synthetic",
                     help="synthetic[:users=..,items=..,seed=..,harm_engagement_boost=..] "
                          "when no --model is given (default synthetic)")
    p.add_argument("--rounds", type=int, default=10, help="rounds (default 10)")
    p.add_argument("--users", type=int, default=None, help="users simulated (default all)")
    p.add_argument("--k", type=int, default=10, help="list length (default 10)")
    p.add_argument("--seeds", type=int, default=3, help="seeds per arm (default 3)")
    p.add_argument("--objective", default="served", choices=OBJECTIVES)
    default = ",".join(f"{DEFAULT_WEIGHTS[o]:g}" for o in BASE_OBJECTIVES)
    p.add_argument("--weights", default=default,
                   help=f"blend weights rating,engagement,profit (default {default})")
    p.add_argument("--no-bid-loop", action="store_true", help="advertisers keep their bids")
    p.add_argument("--no-engagement-loop", action="store_true",
                   help="the engagement estimate does not learn from what was shown")
    p.add_argument("--no-exploitative", action="store_true",
                   help="plant no exploitative advertiser")
    p.add_argument("--boost", type=float, default=None,
                   help="planted extra pull of flagged items (default: the data's)")
    p.add_argument("--refuse", action="store_true", help="mitigation: refuse exploitative "
                                                         "advertisers")
    p.add_argument("--filter", action="store_true", help="mitigation: content policy removes "
                                                         "every labelled item")
    p.add_argument("--diversity", type=float, default=0.0, help="mitigation: MMR strength 0-1")
    p.add_argument("--exploration", type=float, default=0.0,
                   help="mitigation: share of slots given to random candidates 0-1")
    p.add_argument("--retrain-every", type=int, default=0,
                   help="retrain towers and ranking stage every R rounds (default 0: never)")
    p.add_argument("--no-oracle", action="store_true", help="skip the oracle arm")
    p.add_argument("--json", nargs="?", const="-", default=None, metavar="FILE",
                   help="print the study as JSON (or write it to FILE)")
    return p


def config_from_args(args) -> SimulationConfig:
    try:
        weights = tuple(float(x) for x in args.weights.split(","))
    except ValueError:
        weights = ()
    if len(weights) != len(BASE_OBJECTIVES):
        raise ValueError(f"--weights must be three numbers 'rating,engagement,profit', "
                         f"got {args.weights!r}")
    return SimulationConfig(
        rounds=args.rounds, k=args.k, n_users=args.users, objective=args.objective,
        weights=weights, bid_loop=not args.no_bid_loop,
        exploitative=not args.no_exploitative, engagement_loop=not args.no_engagement_loop,
        boost=args.boost, refuse_exploitative=args.refuse, content_filter=args.filter,
        diversity=args.diversity, exploration=args.exploration,
        retrain_every=args.retrain_every)


def load_world(args):
    """The world to simulate: ``--model``'s bundle and data, or the app's model for ``--data``."""
    from recengine.data import load_source
    from recengine.model_store import ModelStore, demo_train_config
    from recengine.serving import load_for_data

    from .simulation_world import World, truth_for

    if args.model:
        if not Path(args.model).is_dir():
            raise FileNotFoundError(f"{args.model}: no such model directory")
        data, bundle = load_for_data(args.model)
        truth_for(data)  # refuse real data before anything else
        return World.from_data(data, bundle, bundle.config)
    data = load_source(args.data)
    truth_for(data)
    cfg = demo_train_config()
    print("loading or training the app's model for this data...", file=sys.stderr)
    return World.from_data(data, ModelStore().get_or_train(data, cfg), cfg)


def _progress(frac: float, text: str) -> None:
    sys.stderr.write(f"\r[{int(100 * frac):3d}%] {text:<60}")
    if frac >= 1:
        sys.stderr.write("\n")
    sys.stderr.flush()


def run_simulate(args) -> int:
    from .simulation import run_study, study_arms
    from .simulation_metrics import MEASURES
    from .simulation_summary import summarise

    cfg = config_from_args(args)
    if args.seeds < 1:
        raise ValueError("--seeds must be at least 1")
    world = load_world(args)
    study = run_study(world, study_arms(cfg), list(range(args.seeds)),
                      oracle=not args.no_oracle, progress=_progress)
    result = {"data": world.data.source, "objective": cfg.objective, **study.to_dict(),
              "summary": summarise(study, cfg.objective)}
    if args.json is not None:
        text = json.dumps(result, indent=2, default=float)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text, encoding="utf-8")
            print(f"wrote {args.json}")
        return 0
    bands = study.bands()
    table = bands[bands["measure"].isin(list(MEASURES))].pivot_table(
        index=["arm", "round"], columns="measure", values="mean", sort=False)
    print(f"Simulated feedback loops on {world.data.source} (every figure is simulated)")
    for arm in study.arms:
        print(f"- {arm} learned each round: " + "; ".join(study.run(arm).learned))
    print(table[list(MEASURES)].round(4).to_string())
    print("\n".join(result["summary"]))
    return 0
