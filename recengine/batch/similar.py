"""The similar-items table as rows: ``batch similar``.

The table is the one the engine serves (the bundle's, or the one
:func:`recengine.similarity.build_similar_table` built when the bundle had
none wide enough); blocks of items become (item_id, rank, neighbour_id,
distance) rows on the workers, so a large catalogue's table is written in
parallel and never held whole as rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..similarity import SimilarTable
from .blocks import default_block_size, split_blocks
from .parquet import write_blocks
from .runner import BatchConfig, map_blocks

COLUMNS = ("item_id", "rank", "neighbour_id", "distance")


def similar_block(shared: tuple[SimilarTable, np.ndarray], items: np.ndarray,
                  n: int) -> pd.DataFrame:
    """Rows of the block's items: each one's ``n`` nearest, squared distances, rank from 1."""
    table, item_ids = shared
    idx, dist = table.indices[items, :n], table.distances[items, :n]
    keep = idx >= 0  # an approximate index may find fewer than n
    ranks = np.broadcast_to(np.arange(1, idx.shape[1] + 1), idx.shape)
    owner = np.broadcast_to(items[:, None], idx.shape)
    return pd.DataFrame({"item_id": item_ids[owner[keep]].astype(np.int64),
                         "rank": ranks[keep].astype(np.int64),
                         "neighbour_id": item_ids[idx[keep]].astype(np.int64),
                         "distance": dist[keep].astype(np.float64)}, columns=list(COLUMNS))


def batch_similar(table: SimilarTable, item_ids: np.ndarray, out: str | Path,
                  n: int | None = None, config: BatchConfig | None = None) -> Path:
    """The table's ``n`` nearest per item (all it holds by default) into ``out/similar``."""
    n = table.n_neighbours if n is None else int(n)
    if not 1 <= n <= table.n_neighbours:
        raise ValueError(f"--n must be between 1 and the table's {table.n_neighbours} "
                         f"neighbours, got {n}")
    config = config or BatchConfig()
    count = len(table.indices)
    blocks = split_blocks(count, config.block_size or default_block_size(count, config.workers))
    shared = (table, np.asarray(item_ids, np.int64))

    def run(on_result):
        return map_blocks(similar_block, shared, blocks, config, (n,), on_result)

    return write_blocks(out, "similar", run,
                        {"job": "similar", "items": int(count), "n": n, "method": table.method,
                         "blocks": len(blocks), "workers": int(config.workers)})
