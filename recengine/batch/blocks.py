"""Ids cut into blocks: the unit of work one worker task receives.

Blocks are contiguous runs of dense indices in order, so gathering the
blocks' results in block order gives exactly the in-process order.
"""

from __future__ import annotations

import numpy as np

#: blocks per worker when no block size is given: enough for load balance, few
#: enough that each task's fixed cost (scheduling, per-block set-up) stays small
BLOCKS_PER_WORKER = 4


def default_block_size(n: int, workers: int) -> int:
    """About :data:`BLOCKS_PER_WORKER` blocks per worker, at least one id each."""
    return max(1, -(-int(n) // (max(1, int(workers)) * BLOCKS_PER_WORKER)))


def split_blocks(n: int, block_size: int) -> list[np.ndarray]:
    """Dense indices ``0..n-1`` as consecutive int64 blocks of at most ``block_size``."""
    if block_size < 1:
        raise ValueError(f"block size must be at least 1, got {block_size}")
    return [np.arange(s, min(s + block_size, n), dtype=np.int64)
            for s in range(0, int(n), int(block_size))]
