"""A 2-D map of item vectors (PCA), so people can see what "similar" means.

PCA rather than t-SNE/UMAP: deterministic, fast, no extra dependency, and its
axes are linear in ``v_m``, so nearby points on the map are at least roughly
near in the space the similar-items table searches. Large catalogues are
subsampled for drawing (a browser cannot show a million points usefully);
the items the caller wants highlighted are always kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Projection:
    indices: np.ndarray  # (m,) catalogue rows that were projected
    coords: np.ndarray  # (m, 2) their positions on the first two components
    explained: tuple[float, float]  # share of variance along each axis


def pca_2d(vectors: np.ndarray, max_points: int = 5000, seed: int = 0,
           include: np.ndarray | list[int] | None = None) -> Projection:
    """Project (a seeded sample of at most ``max_points``) rows onto 2 principal axes.

    The axes are fitted on the sample; ``include`` rows are added to the sample
    (so a chosen item and its neighbours are always on the map).
    """
    x = np.asarray(vectors, dtype=np.float64)
    n = len(x)
    if n == 0:
        return Projection(np.zeros(0, np.int64), np.zeros((0, 2)), (0.0, 0.0))
    if n > max_points:
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(n, size=max_points, replace=False))
    else:
        idx = np.arange(n)
    if include is not None and len(include):
        idx = np.union1d(idx, np.asarray(include, dtype=np.int64))
    sample = x[idx]
    centred = sample - sample.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:2]
    if axes.shape[0] < 2:  # 1-d vectors: pad a zero axis
        axes = np.vstack([axes, np.zeros((2 - axes.shape[0], x.shape[1]))])
    # fix the sign so the picture does not flip between runs/platforms
    signs = np.sign(axes[np.arange(2), np.abs(axes).argmax(axis=1)])
    axes = axes * np.where(signs == 0, 1.0, signs)[:, None]
    var = s ** 2
    total = float(var.sum()) or 1.0
    explained = tuple(float(v / total) for v in np.pad(var[:2], (0, max(0, 2 - len(var)))))
    return Projection(idx.astype(np.int64), centred @ axes.T, explained)
