"""The options every audit verb shares: list length, seed, ordering, blend weights, policy.

Why a module of its own: ``report`` and ``batch`` describe the same served
list, so they must take its settings the same way; ``audits.__main__`` imports
the verbs, so the verbs cannot import it back. Light: no Keras.
"""

from __future__ import annotations

import argparse

from recengine.objectives import BASE_OBJECTIVES, DEFAULT_WEIGHTS, OBJECTIVES

#: the blend weights' default as the command line spells it ("0.5,0.3,0.2")
DEFAULT_WEIGHTS_TEXT = ",".join(f"{DEFAULT_WEIGHTS[o]:g}" for o in BASE_OBJECTIVES)


def add_list_options(p: argparse.ArgumentParser) -> None:
    """``--k``, ``--seed``, ``--objective``, ``--weights``, ``--block-label``, ``--block-genre``."""
    p.add_argument("--k", type=int, default=10, help="list length (default 10)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--objective", default="served", choices=OBJECTIVES,
                   help="the ordering audited (default served: what users get)")
    p.add_argument("--weights", default=DEFAULT_WEIGHTS_TEXT,
                   help=f"blend weights rating,engagement,profit (default "
                        f"{DEFAULT_WEIGHTS_TEXT})")
    p.add_argument("--block-label", action="append", default=[],
                   help="content label the policy removes (repeatable)")
    p.add_argument("--block-genre", action="append", default=[],
                   help="genre the policy removes (repeatable)")


def parse_weights(text: str) -> dict[str, float]:
    """``"r,e,p"`` -> blend weights; anything else is refused in one line."""
    try:
        values = [float(x) for x in text.split(",")]
    except ValueError:
        values = []
    if len(values) != len(BASE_OBJECTIVES):
        raise ValueError(f"--weights must be three numbers 'rating,engagement,profit', "
                         f"got {text!r}")
    return dict(zip(BASE_OBJECTIVES, values, strict=True))


__all__ = ["DEFAULT_WEIGHTS_TEXT", "add_list_options", "parse_weights"]
