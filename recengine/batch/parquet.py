"""Block results written as one Parquet data set: a folder of ``part-NNNNN.parquet`` files.

Parts are written as the blocks come in (in block order), so the driver holds
one block at a time however many users there are; ``pandas.read_parquet(folder)``
reads them back as one table. A folder that already exists is refused rather
than mixed with or overwritten: nothing is lost. Parts go to a hidden
temporary folder first, renamed into place when every block is in, so a job
that fails half-way leaves no half-written table under the real name.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd

#: the file beside each table that says what was run and how big it came out
MANIFEST = "batch.json"


class PartWriter:
    """``on_result`` for :func:`recengine.batch.runner.map_blocks`: block i -> part i."""

    def __init__(self, out: str | Path, name: str):
        self.out = Path(out)
        self.final = self.out / name
        if self.final.exists():
            # a ValueError: the CLIs' one-line errors catch it
            raise ValueError(f"{self.final} already exists: choose another --out or remove it")
        self.tmp = self.out / f".{name}.tmp-{os.getpid()}"
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        self.rows = 0
        self.parts = 0

    def __call__(self, i: int, frame: pd.DataFrame) -> None:
        frame.to_parquet(self.tmp / f"part-{i:05d}.parquet", index=False)
        self.rows += len(frame)
        self.parts += 1

    def finish(self, manifest: dict) -> Path:
        """Move the parts into place and write the manifest beside them."""
        self.tmp.rename(self.final)
        info = {**manifest, "table": self.final.name, "rows": self.rows, "parts": self.parts}
        (self.out / f"{self.final.name}.{MANIFEST}").write_text(json.dumps(info, indent=2),
                                                                encoding="utf-8")
        return self.final

    def abandon(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def write_blocks(out: str | Path, name: str, run, manifest: dict) -> Path:
    """``run(on_result)`` feeds a :class:`PartWriter`; returns the finished folder."""
    writer = PartWriter(out, name)
    try:
        block_run = run(writer)
    except BaseException:
        writer.abandon()
        raise
    manifest = {**manifest, "where": block_run.where,
                "cpu_seconds": block_run.cpu_seconds,
                "peak_rss_bytes": {str(k): v for k, v in block_run.peak_rss_bytes.items()}}
    return writer.finish(manifest)
