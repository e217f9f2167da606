"""What the bench scripts share: where the project, the real data and the results live.

Importing it puts the project root on ``sys.path``, so a script run as
``python bench/x.py`` (whose own folder is on the path) can import recengine
after it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
#: the real MovieLens data beside the project (read there, never copied into it)
REAL = ROOT / ".." / "shared" / "data" / "ml-latest-small"
RESULTS = ROOT / "bench" / "results"


def write_json(path: str | Path, record: object) -> Path:
    """Write ``record`` as indented JSON, its folder made if need be, and say where."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {path}")
    return path
