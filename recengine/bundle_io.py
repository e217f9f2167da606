"""The on-disk bundle format shared by every model kind.

A bundle is a directory: ``metadata.json`` (kind, data fingerprint, config,
library versions, metrics, creation time, format and project version), any
payload files (``model.keras``, ``arrays.npz``, ``spec.json``...) and
``manifest.json`` with each file's SHA-256. Written to a temporary sibling
folder and renamed into place, so a crash never leaves half a bundle; read back
only if every check below passes, so a truncated or edited file is refused
rather than silently served.

What :func:`read_bundle` refuses, each with a one-line :class:`BundleError`:

* no ``manifest.json``, or one that is not a JSON object of file name -> SHA-256
  hex digest (a list, a string, a digest that is not 64 hex digits);
* a manifest that does not list every file the loader reads: ``metadata.json``
  always, plus the kind's payloads (:data:`REQUIRED_FILES`: ``model.keras``,
  ``spec.json`` and ``arrays.npz`` for ``two_tower``, ``arrays.npz`` for
  ``cf``). An empty manifest (``{}``) lists nothing, so it is refused;
* a manifest name that leaves the bundle folder: absolute (``/x``, ``C:x``),
  with ``..`` or a backslash, or a symbolic link that resolves outside it;
* a listed file that is missing or whose checksum differs;
* ``metadata.json`` that is not a JSON object, of another kind, for other data
  (fingerprint), or from another format version (the rule below).

Reading writes nothing, so a refused load leaves every bundle on disk
byte-identical; the caller decides what to do next (the model store retrains).

Bundles from other versions. Every bundle written records ``format_version``
(:data:`FORMAT_VERSION`, now 1) and ``recengine_version`` in its metadata. On load:

1. ``format_version`` above this code's :data:`FORMAT_VERSION` (a newer
   recengine wrote it) or not a positive integer: refused, naming both versions.
2. no ``format_version``: the bundle predates the field; it is read as the
   current format, under rule 3 like every other bundle.
3. a ``config`` in the metadata that names a field this version does not know
   (e.g. ``model.new_option``) is refused, naming the field, the bundle's
   versions and this one's: an option this code cannot honour would change how
   the model must be served, and ignoring it would serve it wrongly. Fields this
   version knows but the bundle lacks take this version's defaults.

A refused bundle is upgraded by retraining it with this version.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path, PurePosixPath

from .hashing import sha256_file

MANIFEST = "manifest.json"
METADATA = "metadata.json"
#: the bundle layout this code writes and reads; raise it when the layout changes
FORMAT_VERSION = 1
#: payload files a loader of each kind reads, so its manifest must list them
REQUIRED_FILES: dict[str, tuple[str, ...]] = {
    "two_tower": ("model.keras", "spec.json", "arrays.npz"),
    "cf": ("arrays.npz",),
}
_DIGEST = re.compile(r"[0-9a-f]{64}")


class BundleError(ValueError):
    """A bundle that cannot be trusted: missing, tampered, or for other data."""


@lru_cache(maxsize=1)
def project_version() -> str:
    """recengine's version: the checkout's pyproject.toml, else the installed package."""
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    try:
        import tomllib

        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
        if project.get("name") == "recengine" and project.get("version"):
            return str(project["version"])
    except (OSError, ValueError):
        pass
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version("recengine")
    except (ImportError, PackageNotFoundError):
        return "unknown"


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
        # what is written now is this format, whatever a reloaded bundle said before
        meta["format_version"] = FORMAT_VERSION
        meta["recengine_version"] = project_version()
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
                kind: str | None = None, required: Iterable[str] | None = None,
                config_class: type | None = None) -> dict:
    """Run every check in the module docstring and return the metadata.

    ``required`` names the payload files the caller will read (default: the
    kind's :data:`REQUIRED_FILES`); ``config_class`` is the dataclass the
    metadata's ``config`` must fit (rule 3 of the version rule). Raises
    BundleError, never anything else, for a bundle that fails a check.
    """
    path = Path(path)
    manifest = _read_manifest(path)
    if required is None:
        required = REQUIRED_FILES.get(kind, ()) if kind is not None else ()
    missing = [name for name in dict.fromkeys((METADATA, *required)) if name not in manifest]
    if missing:
        raise BundleError(f"{path / MANIFEST}: does not list {', '.join(missing)} (a bundle's "
                          "manifest must list every file it needs); retrain or restore the "
                          "bundle")
    root = path.resolve()
    for name, digest in manifest.items():
        file = _member(path, root, name)
        if not file.is_file():
            raise BundleError(f"{file}: listed in the manifest but missing")
        if sha256_file(file) != digest:
            raise BundleError(f"{file}: checksum mismatch (truncated or edited); "
                              "retrain or restore the bundle")
    meta = _read_json_object(path / METADATA, "metadata")
    _check_format(path, meta)
    if kind is not None and meta.get("kind") != kind:
        raise BundleError(f"{path}: a {meta.get('kind')!r} bundle, expected {kind!r}")
    if fingerprint is not None and meta.get("fingerprint") != fingerprint:
        raise BundleError(f"{path}: trained on other data (fingerprint "
                          f"{str(meta.get('fingerprint'))[:12]}..., this data "
                          f"{fingerprint[:12]}...)")
    if config_class is not None:
        check_config(path, meta, config_class)
    return meta


def check_config(path: str | Path, meta: dict, config_class: type) -> None:
    """Refuse metadata whose ``config`` names a field ``config_class`` does not know.

    Nested dataclass fields (``model.user_tower.hidden``) are checked too; the
    message names the first unknown field, the bundle's versions and this one's.
    """
    config = meta.get("config")
    if not isinstance(config, dict):
        raise BundleError(f"{Path(path) / METADATA}: config is {_a(config)}, expected a JSON "
                          "object of training options")
    unknown = _unknown_fields(config, config_class, "")
    if unknown:
        field, problem = unknown[0]
        more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
        raise BundleError(f"{Path(path) / METADATA}: config field {field!r} {problem}{more} "
                          f"to recengine {project_version()} (bundle format {FORMAT_VERSION}); "
                          f"the bundle was written by {_written_by(meta)}; retrain it with "
                          "this version")


# ----- the checks ---------------------------------------------------------------------
def _read_manifest(path: Path) -> dict[str, str]:
    file = path / MANIFEST
    if not file.is_file():
        raise BundleError(f"{path}: not a model bundle (no {MANIFEST})")
    manifest = _read_json_object(file, "manifest")
    for name, digest in manifest.items():
        if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
            raise BundleError(f"{file}: entry {name!r} has no SHA-256 digest (got "
                              f"{_a(digest)}); retrain or restore the bundle")
    return manifest


def _read_json_object(file: Path, what: str) -> dict:
    try:
        value = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{file}: unreadable {what} ({_one_line(exc)})") from exc
    if not isinstance(value, dict):
        raise BundleError(f"{file}: the {what} is {_a(value)}, expected a JSON object")
    return value


def _member(path: Path, root: Path, name: str) -> Path:
    """``path / name`` if ``name`` stays inside the bundle folder; BundleError otherwise."""
    pure = PurePosixPath(name)
    if (not name or "\\" in name or "\0" in name or pure.is_absolute()
            or ":" in (pure.parts[0] if pure.parts else "") or ".." in pure.parts):
        raise BundleError(f"{path / MANIFEST}: entry {name!r} is not a plain file name "
                          "inside the bundle (absolute, '..' or a drive)")
    file = path / name
    if not file.resolve().is_relative_to(root):
        raise BundleError(f"{path / MANIFEST}: entry {name!r} resolves outside the bundle "
                          f"folder (to {file.resolve()}: a symbolic link?)")
    return file


def _check_format(path: Path, meta: dict) -> None:
    version = meta.get("format_version", FORMAT_VERSION)  # absent: before versions (rule 2)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise BundleError(f"{path / METADATA}: format_version {version!r} is not a positive "
                          "integer")
    if version > FORMAT_VERSION:
        raise BundleError(f"{path}: bundle format {version} (written by {_written_by(meta)}) "
                          f"is newer than recengine {project_version()} reads (format "
                          f"{FORMAT_VERSION}); upgrade recengine or retrain the bundle")


def _unknown_fields(values: dict, cls: type, prefix: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    known = {f.name: f for f in dataclasses.fields(cls)}
    for key, value in values.items():
        name = f"{prefix}{key}"
        field = known.get(key)
        if field is None:
            out.append((name, "is unknown"))
            continue
        nested = _nested_dataclass(field)
        if nested is None:
            continue
        if not isinstance(value, dict):
            out.append((name, f"is {_a(value)} where an object is expected, unreadable"))
            continue
        out.extend(_unknown_fields(value, nested, f"{name}."))
    return out


def _nested_dataclass(field: dataclasses.Field) -> type | None:
    """The dataclass a field holds (found through its default), or None."""
    if field.default_factory is not dataclasses.MISSING:
        default = field.default_factory()
    else:
        default = field.default
    return type(default) if dataclasses.is_dataclass(default) else None


def _written_by(meta: dict) -> str:
    if "format_version" not in meta:
        return "a recengine from before bundle format versions were recorded"
    return (f"recengine {meta.get('recengine_version', 'unknown')} "
            f"(format {meta['format_version']})")


def _a(value) -> str:
    """A JSON value's type in words: 'a list', 'a string', 'null'..."""
    if value is None:
        return "null"
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
             int: "a number", float: "a number"}
    return names.get(type(value), f"a {type(value).__name__}")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _json_default(obj):
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
