"""How much of the rating head's gain is shrinkage alone: shrunk user and item biases, no
``v_u · v_m`` and no item content, on the protocol's split (seconds, numpy only).

The pseudo-counts are chosen on the validation split of train, as the head's are; the bias
baseline (unshrunk mean residuals, EVALUATION.md) is printed beside it from the same split.

    python bench/rating_head_ablation.py [--data SPEC]
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from common import REAL  # bench/common.py: the project on sys.path

from recengine.data import load_source
from recengine.evaluation.baselines import fit_bias
from recengine.rating_head import RatingHeadConfig, choose_shrinkage, fit_biased_head
from recengine.split import temporal_split, validation_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=f"movielens-latest:{REAL.resolve()}"
                        if (REAL / "ratings.csv").is_file() else "synthetic")
    args = parser.parse_args()
    data = load_source(args.data)
    split = temporal_split(data.interactions)
    train, test = split.train, split.test
    lo, hi = data.rating_scale

    def scaled(r):
        return 2 * (np.asarray(r, np.float64) - lo) / (hi - lo) - 1

    def rmse(pred):
        return float(np.sqrt(np.mean((pred - test["rating"].to_numpy()) ** 2)))

    no_content = np.zeros((data.n_items, 0))
    inner = validation_split(train, 0.1)
    rows = [{"dots": np.zeros(len(f)), "u": f["u"].to_numpy(), "i": f["i"].to_numpy(),
             "y": scaled(f["rating"])} for f in (inner.train, inner.test)]
    lu, li, _ = choose_shrinkage(rows[0], rows[1], no_content, data.n_users, RatingHeadConfig())
    head = fit_biased_head(np.zeros(len(train)), train["u"].to_numpy(), train["i"].to_numpy(),
                           scaled(train["rating"]), no_content, data.n_users, lu, li)
    z = head.predict(np.zeros(len(test)), test["u"].to_numpy(), test["i"].to_numpy())
    ours = rmse(np.clip(lo + (z + 1) / 2 * (hi - lo), lo, hi))
    base = fit_bias(train, data.n_items, data.n_users)
    theirs = rmse(np.clip(base.predict(test["u"].to_numpy(), test["i"].to_numpy()), lo, hi))
    print(f"load {os.getloadavg()[0]:.1f}; shrunk biases only (user {lu:g}, item {li:g}, chosen "
          f"on validation): RMSE {ours:.4f}; bias baseline {theirs:.4f}; ratio {ours / theirs:.4f}")


if __name__ == "__main__":
    main()
