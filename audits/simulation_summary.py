"""A simulation study in plain words: what happened, what each mitigation cost, validity.

The page, the CLI and the bench say the same sentences and check the same
effects, so they are written once here. Costs are stated in the objective's
own terms (:data:`OWN_TERMS`): a profit-maximising service counts revenue, an
engagement one watch minutes, and so on; a mitigation is worth stating by
what it costs the very figure its operator optimises.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .simulation import ORACLE, Change, Study
from .simulation_config import MITIGATIONS
from .simulation_metrics import MEASURES, OUTCOMES

#: the realised figure each objective maximises (blend: each of its parts)
OWN_TERMS = {"served": ["liked"], "rating": ["mean_rating"], "engagement": ["minutes"],
             "profit": ["revenue"], "blend": ["mean_rating", "minutes", "revenue"]}
#: the loops' measures and their direction of harm
LOOP_MEASURES = {"flagged_share": "engagement -> exposure",
                 "exploit_share": "bids -> traffic -> bids"}


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _fmt(name: str, x: float) -> str:
    if not np.isfinite(x):
        return "n/a"
    return _pct(x) if name.endswith("share") or name == "coverage" else f"{x:.3f}"


def describe_change(c: Change, name: str) -> str:
    """"+2.3 points, 95% interval +0.4 to +4.1" for shares, "+0.120, ..." for the rest."""
    if name.endswith("share") or name == "coverage":
        return (f"{100 * c.mean:+.1f} points, 95% interval {100 * c.low:+.1f} to "
                f"{100 * c.high:+.1f}")
    return f"{c.mean:+.3f}, 95% interval {c.low:+.3f} to {c.high:+.3f}"


def later_rounds(study: Study) -> list[int]:
    """Rounds 2..T: round 1 is shown before the system has learned anything."""
    last = int(study.frame()["round"].max())
    return list(range(2, last + 1)) or [1]


def loop_effects(study: Study, on: str, off: str) -> dict[str, Change]:
    """Each loop measure with the loops on minus off (same seeds), over rounds 2..T.

    The loops' doing and nothing else: both arms face the same users, choices'
    randomness and depletion (a consumed item is not shown again), so a
    difference is what learning from the log added.
    """
    rounds = later_rounds(study)
    return {m: study.gap(on, off, m, rounds) for m in LOOP_MEASURES}


def homogenisation_gap(study: Study, arm: str) -> Change:
    """The arm's homogenisation minus the oracle's at the last round (paired by seed)."""
    last = int(study.frame()["round"].max())
    return study.gap(arm, ORACLE, "homogenisation", [last])


def cost_table(study: Study, objective: str, base: str = "unmitigated") -> pd.DataFrame:
    """Each mitigated arm against ``base`` in the objective's own terms, mean over rounds.

    ``change`` is the paired mean difference over seeds with its interval;
    ``relative`` is that change over the unmitigated mean.
    """
    rows = []
    for arm in study.arms:
        if arm in (base, ORACLE):
            continue
        for name in OWN_TERMS[objective]:
            c = study.gap(arm, base, name)
            ref = float(study.per_seed(base, name).mean())
            rows.append({"arm": arm, "mitigations": ", ".join(study.run(arm).config.mitigations),
                         "figure": OUTCOMES[name], "unmitigated": ref, "with": ref + c.mean,
                         "change": c.mean, "low": c.low, "high": c.high,
                         "relative": c.mean / ref if ref else float("nan")})
    return pd.DataFrame(rows)


def summarise(study: Study, objective: str, base: str = "unmitigated",
              mitigated: str = "mitigated") -> list[str]:
    """What happened over the rounds, and what the mitigations cost, in plain words."""
    f = study.frame()
    first, last = 1, int(f["round"].max())
    n_seeds = f["seed"].nunique()
    cfg = study.run(base).config if base in study.arms else study.runs[0].config
    loops = [name for name, on in (("bids -> traffic -> bids", cfg.bid_loop),
                                   ("engagement -> exposure", cfg.engagement_loop)) if on]
    planted = (["an exploitative advertiser 0"] if cfg.exploitative else []) + (
        [f"flagged items pulling {1 + cfg.boost:g}x"] if cfg.boost else [])
    out = [f"Simulated: {last} rounds, {n_seeds} seed{'s' if n_seeds != 1 else ''}, "
           f"objective {objective}; loops on: {', '.join(loops) or 'none'}; planted: "
           f"{', '.join(planted) or 'nothing'}"
           + ("" if cfg.boost is not None else " (flagged items pull as the data plants)")
           + ". Intervals are 95% over seeds."]
    for arm in (a for a in (base, mitigated) if a in study.arms):
        parts = []
        for name in ("flagged_share", "exploit_share", "utility", "gini"):
            a = float(study.per_seed(arm, name, [first]).mean())
            b = float(study.per_seed(arm, name, [last]).mean())
            parts.append(f"{MEASURES[name].split(' (')[0]} went from {_fmt(name, a)} to "
                         f"{_fmt(name, b)} ({describe_change(study.change(arm, name), name)})")
        mits = study.run(arm).config.mitigations
        who = "Without mitigation" if not mits else "With " + " and ".join(
            MITIGATIONS[m].split(" (")[0] for m in mits)
        out.append(f"{who}: " + "; ".join(parts) + ".")
        if ORACLE in study.arms:
            h = homogenisation_gap(study, arm)
            mine = float(study.per_seed(arm, "homogenisation", [last]).mean())
            oracle = float(study.per_seed(ORACLE, "homogenisation", [last]).mean())
            out.append(f"{who}, users' consumed sets overlap {mine:.3f} on average (mean "
                       f"Jaccard) after {last} rounds, against {oracle:.3f} under the oracle "
                       f"that recommends by planted taste ({describe_change(h, 'h')})"
                       + ("; the system homogenises more." if h.sign > 0 else "."))
    costs = cost_table(study, objective, base)
    for _, r in costs.iterrows():
        out.append(f"{r['arm'].capitalize()} ({r['mitigations']}) changed {r['figure']} from "
                   f"{r['unmitigated']:.3f} to {r['with']:.3f} per round "
                   f"({_pct(r['relative'])}; 95% interval {r['low']:+.3f} to {r['high']:+.3f}).")
    refusing = [r for r in study.runs if r.config.refuse_exploitative]
    if refusing:
        zero = [r.refused[0] for r in refusing if 0 in r.refused]
        honest = sum(len([a for a in r.refused if a != 0]) for r in refusing)
        who = ("the exploitative advertiser 0" if refusing[0].config.exploitative
               else "advertiser 0 (not exploitative in these runs)")
        out.append(f"Refusing advertisers by their logged ratings: {who} was refused in "
                   f"{len(zero)} of {len(refusing)} runs"
                   + (f", after round {min(zero)} at the earliest" if zero else "")
                   + f"; honest advertisers refused: {honest}.")
    return out
