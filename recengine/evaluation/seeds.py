"""Figures over several seeds: one run's figure moves by about a standard error.

On ml-latest-small one seed's pipeline Recall@10 moves by about +-2% between
seeds, as large as most changes worth making, so TARGETS.md asks for the mean
over seeds 0, 1 and 2. This module turns per-seed result dicts (each one
``evaluate`` run) into a ``mean`` and a ``std`` block with the same nested keys,
for every number present in every seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

#: result keys that describe a run rather than measure a system (not averaged)
NOT_FIGURES = ("data", "seconds", "config", "seed", "k")
#: ``std`` is the sample standard deviation over seeds (numpy ``ddof=1``): the spread a
#: new seed's figure is expected to show; None with a single seed
STD_DDOF = 1


def _is_number(value) -> bool:
    return (isinstance(value, int | float | np.integer | np.floating)
            and not isinstance(value, bool))


def _combine(values: Sequence, reduce) -> object:
    """Reduce each number present in every element; nested dicts keep their shape."""
    first = values[0]
    if isinstance(first, dict):
        out = {}
        for key in first:
            if all(isinstance(v, dict) and key in v for v in values):
                part = _combine([v[key] for v in values], reduce)
                if part is not None:
                    out[key] = part
        return out or None
    if all(_is_number(v) and math.isfinite(float(v)) for v in values):
        return reduce(np.asarray(values, np.float64))
    return None


def seed_summary(results: Sequence[dict]) -> tuple[dict, dict]:
    """(mean, std) over per-seed results, key by key (see :data:`STD_DDOF`)."""
    if not results:
        raise ValueError("no per-seed results to summarise")
    figures = [{k: v for k, v in r.items() if k not in NOT_FIGURES} for r in results]

    def std(a: np.ndarray):
        return float(np.std(a, ddof=STD_DDOF)) if len(a) > STD_DDOF else None

    mean = _combine(figures, lambda a: float(np.mean(a))) or {}
    spread = _combine(figures, std) or {}
    ks = {r["k"] for r in results if "k" in r}
    if len(ks) == 1:  # the list length is a setting, not a figure: kept as it is
        mean = {"k": ks.pop(), **mean}
    return mean, spread


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` -> [0, 1, 2]; a clear error for anything else."""
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise ValueError(f"--seeds takes comma-separated integers, e.g. 0,1,2; got "
                         f"{text!r}") from None
    if not seeds:
        raise ValueError(f"--seeds names no seed: {text!r}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds names a seed twice: {text!r}")
    return seeds


__all__ = ["NOT_FIGURES", "STD_DDOF", "parse_seeds", "seed_summary"]
