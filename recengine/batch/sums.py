"""Exact sums that blocks hand to the driver, so a mean over blocks is the one-pass mean.

A block's float sum and the driver's sum of block sums round in a different
order than one pass over every value, so a figure would change in its last
bits with the block size. Instead each block returns its sum as **exact
partials** (:func:`exact_partials`: a few floats whose unrounded sum is the
exact sum of its values), and the driver adds every block's partials with
:func:`math.fsum` (:func:`exact_total`), which rounds the exact total once.
The result is the correctly rounded sum of all the values, whatever the blocks
were, so one block (the in-process path) and many (a batch job) give the same
float, bit for bit. A block's partials are few (typically one to three), so a
block ships O(1) numbers per sum however many users it holds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np


def exact_partials(values) -> tuple[float, ...]:
    """Floats whose exact sum equals the exact sum of ``values`` (empty when it is 0).

    Each step takes the correctly rounded remainder (``math.fsum`` of the values
    less the partials so far) as the next partial, until the remainder is
    exactly zero: a nonzero remainder of float sums is at least the smallest
    subnormal, which ``fsum`` never rounds to zero, so zero means exact. Values
    that are not all finite have no exact sum: their ``fsum`` (inf or nan) is
    returned as the one partial, so it propagates to the total.
    """
    x = np.asarray(values, np.float64).ravel()
    if not np.isfinite(x).all():
        return (float(np.sum(x)),)
    rest = x.tolist()
    partials: list[float] = []
    while True:
        r = math.fsum(rest + [-p for p in partials])
        if r == 0.0:
            return tuple(partials)
        partials.append(r)


def exact_total(partials: Iterable[Iterable[float]]) -> float:
    """The correctly rounded sum of every block's partials (0.0 when there are none)."""
    flat = [p for block in partials for p in block]
    if not all(math.isfinite(p) for p in flat):
        return float(np.sum(flat))
    return math.fsum(flat)
