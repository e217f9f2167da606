"""The on-disk bundle format shared by every model kind.

A bundle is a directory: ``metadata.json`` (kind, data fingerprint, config,
library versions, metrics, creation time), any payload files (``model.keras``,
``arrays.npz``, ``spec.json``...) and ``manifest.json`` with each file's
SHA-256. Written to a temporary sibling folder and renamed into place, so a
crash never leaves half a bundle; read back only if every checksum matches, so
a truncated or edited file is refused rather than silently served.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from .hashing import sha256_file

MANIFEST = "manifest.json"
METADATA = "metadata.json"


class BundleError(ValueError):
    """A bundle that cannot be trusted: missing, tampered, or for other data."""


def library_versions() -> dict[str, str]:
    import numpy
    import pandas

    out = {"python": platform.python_version(), "numpy": numpy.__version__,
           "pandas": pandas.__version__}
    try:
        import keras

        out["keras"] = keras.__version__
        out["keras_backend"] = keras.backend.backend()
    except ImportError:  # pragma: no cover - keras is a hard requirement
        pass
    return out


def write_bundle(path: str | Path, metadata: dict,
                 writers: dict[str, Callable[[Path], None]]) -> Path:
    """Write payload files with ``writers[name](file_path)``, then rename into place.

    An existing bundle at ``path`` is replaced only after the new one is complete.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        for name, write in writers.items():
            write(tmp / name)
        meta = dict(metadata)
        meta.setdefault("created", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        meta.setdefault("versions", library_versions())
        (tmp / METADATA).write_text(json.dumps(meta, indent=2, default=_json_default))
        files = sorted(p.name for p in tmp.iterdir())
        manifest = {name: sha256_file(tmp / name) for name in files}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def read_bundle(path: str | Path, *, fingerprint: str | None = None,
                kind: str | None = None) -> dict:
    """Verify every checksum and return the metadata; raise BundleError otherwise."""
    path = Path(path)
    if not (path / MANIFEST).is_file():
        raise BundleError(f"{path}: not a model bundle (no {MANIFEST})")
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except json.JSONDecodeError as exc:
        raise BundleError(f"{path / MANIFEST}: unreadable manifest ({exc})") from exc
    for name, digest in manifest.items():
        file = path / name
        if not file.is_file():
            raise BundleError(f"{file}: listed in the manifest but missing")
        if sha256_file(file) != digest:
            raise BundleError(f"{file}: checksum mismatch (truncated or edited); "
                              "retrain or restore the bundle")
    meta = json.loads((path / METADATA).read_text())
    if kind is not None and meta.get("kind") != kind:
        raise BundleError(f"{path}: a {meta.get('kind')!r} bundle, expected {kind!r}")
    if fingerprint is not None and meta.get("fingerprint") != fingerprint:
        raise BundleError(f"{path}: trained on other data (fingerprint "
                          f"{str(meta.get('fingerprint'))[:12]}..., this data "
                          f"{fingerprint[:12]}...)")
    return meta


def _json_default(obj):
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
