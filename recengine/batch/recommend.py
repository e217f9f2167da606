"""Every user's top k with sources, flattened into rows: ``batch recommend``.

Each row is one recommended item and carries every field
``python -m recengine recommend --json`` gives (:meth:`RecommendationResult.to_dict`):
the item's own fields as columns, nested ones (sources, contributions) as
JSON text, and the list's fields (ordering rule, funnel, policy actions, notes)
repeated on each of its rows, which Parquet's dictionary encoding stores once.
The rows come from :meth:`Engine.recommend` itself, so a batch list is the
served list, not a re-implementation of it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..engine import Engine
from ..policy import ContentPolicy
from ..results import RecommendationResult
from .blocks import default_block_size, split_blocks
from .parquet import write_blocks
from .runner import BatchConfig, map_blocks
from .shipping import light_engine

#: the item's own columns, then the list's (in to_dict's order)
ITEM_COLUMNS = ("rank", "item_id", "title", "genres", "score", "predicted_rating", "sources",
                "demoted_by", "contributions")
LIST_COLUMNS = ("filtered", "stage_counts", "skipped_sources", "notes", "objective",
                "ordering_rule", "score_meaning", "intercept", "displaced")
#: columns holding JSON text (nested in the result)
JSON_COLUMNS = ("sources", "contributions", "filtered", "stage_counts", "skipped_sources",
                "notes", "displaced")
COLUMNS = ("user_id", *ITEM_COLUMNS, "source_names", *LIST_COLUMNS)


def plain(value):
    """JSON for numpy scalars and arrays (their Python value), anything else as text."""
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    return str(value)


def as_json(value) -> str:
    return json.dumps(value, default=plain, sort_keys=True)


def result_rows(result: RecommendationResult) -> list[dict]:
    """One flat row per recommended item of one result."""
    d = result.to_dict()
    shared = {c: (as_json(d[c]) if c in JSON_COLUMNS else d[c]) for c in LIST_COLUMNS}
    rows = []
    for item in d["items"]:
        row = {"user_id": d["user_id"]}
        row.update({c: (as_json(item[c]) if c in JSON_COLUMNS else item[c])
                    for c in ITEM_COLUMNS})
        row["source_names"] = "|".join(sorted({h["source"] for h in item["sources"]}))
        row.update(shared)
        rows.append(row)
    return rows


def recommend_block(engine: Engine, users: np.ndarray, k: int,
                    policy: ContentPolicy | None) -> pd.DataFrame:
    """The block's users (dense indices) through :meth:`Engine.recommend`, as rows."""
    ids = engine.data.users["user_id"].to_numpy()
    rows = [row for u in users.tolist()
            for row in result_rows(engine.recommend(int(ids[u]), k, policy))]
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    return frame.astype({"user_id": "int64", "rank": "int64", "item_id": "int64"})


def batch_recommend(engine: Engine, out: str | Path, k: int = 10,
                    policy: ContentPolicy | None = None,
                    config: BatchConfig | None = None) -> Path:
    """Every user's served top ``k`` into ``out/recommendations`` (Parquet parts)."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    config = config or BatchConfig()
    n = engine.data.n_users
    blocks = split_blocks(n, config.block_size or default_block_size(n, config.workers))
    shipped = light_engine(engine)

    def run(on_result):
        return map_blocks(recommend_block, shipped, blocks, config, (k, policy), on_result)

    return write_blocks(out, "recommendations", run,
                        {"job": "recommend", "users": int(n), "k": int(k),
                         "blocks": len(blocks), "workers": int(config.workers)})
