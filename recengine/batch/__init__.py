"""Batch jobs: the same per-user and per-item work as serving, over everyone, on Ray or not.

* :mod:`.blocks`: ids cut into blocks, the unit of work a worker gets;
* :mod:`.shipping`: the engine made light to ship (arrays, no Keras);
* :mod:`.runner`: ship it once, map a block function, gather in order (and
  run one whole-data side job on the same shipped object);
* :mod:`.sums`: exact sums, so means over blocks equal one pass's;
* :mod:`.recommend`, :mod:`.similar`: the two jobs recengine itself runs;
* :mod:`.parquet`: block results written as a Parquet data set.

Ray is imported only inside :func:`.runner.map_blocks`, so importing this
package (or the app) never loads it. The audits build their own job on the
same runner (``python -m audits batch``), because recengine never imports
audits.
"""

from .blocks import split_blocks
from .runner import BatchConfig, BlockRun, SideJob, SideRun, map_blocks
from .shipping import light_engine, light_subject

__all__ = ["BatchConfig", "BlockRun", "SideJob", "SideRun", "light_engine", "light_subject",
           "map_blocks", "split_blocks"]
