"""Fetch a MovieLens zip once, check its SHA-256, unpack it safely, cache it.

Why so careful: a downloaded archive is untrusted input. The digest is checked
before anything is unpacked; entries with absolute paths, ``..`` components or
symbolic links are refused (they could write outside the cache); unpacking goes
to a temporary folder renamed into place, so an interrupted run never leaves a
half-unpacked data set that later looks complete. Reading an entry is checked
too: a bad CRC, a size header that lies or a compression method this Python
cannot read is an :class:`ArchiveError`, one line, like every other refusal.
The unpacked folder must then hold MovieLens data that loads (``ratings.csv``
and ``movies.csv``, or ``u.data``, ``u.item`` and ``u.user`` for ml-100k)
before it is marked complete. A refused archive (wrong checksum, unsafe or
unreadable entries, not a zip, not MovieLens data) is deleted from the cache,
so the next call downloads it afresh instead of failing on the same bytes.

Checksums: the published SHA-256 values below are those TensorFlow Datasets
records for the same GroupLens URLs (tensorflow_datasets/url_checksums/
movielens.txt: ml-latest-small.zip 978,202 bytes, ml-100k.zip 4,924,029 bytes).
GroupLens itself publishes only MD5 files. "latest-small" can be re-released by
GroupLens; then the check fails and says so, and a caller who trusts the new
file passes its ``sha256`` explicitly. For any other URL without a ``sha256``
the first download is trusted and its digest recorded next to the zip
(``NAME.zip.sha256``): every later download must match it (trust on first use).
The digest is recorded only once the archive has unpacked and validated, so a
broken or hostile first download is never what later downloads are held to.

From the command line: ``python -m recengine download ml-latest-small``
(:mod:`recengine.cli.download`).
"""

from __future__ import annotations

import os
import shutil
import stat
import struct
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from ..hashing import sha256_file
from ..schema import DataError

BASE_URL = "https://files.grouplens.org/datasets/movielens"
KNOWN = {
    "ml-latest-small": (f"{BASE_URL}/ml-latest-small.zip",
                        "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436"),
    "ml-100k": (f"{BASE_URL}/ml-100k.zip",
                "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229"),
}
#: refuse archives that would unpack to more than this (a zip bomb guard)
MAX_UNPACKED_BYTES = 2 << 30
_COMPLETE = ".recengine-complete"


class DownloadError(DataError):
    """The data could not be fetched (no network, unreachable or missing URL)."""


class ArchiveError(DataError):
    """A fetched archive that must not be used: wrong checksum or unsafe entries."""


def default_cache_dir() -> Path:
    """``$RECENGINE_CACHE`` if set, else ``~/.cache/recengine``."""
    env = os.environ.get("RECENGINE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "recengine"


def _fetch(url: str, dest: Path, timeout: float, name: str) -> None:
    """Stream ``url`` into ``dest`` (written to a temp file, then renamed)."""
    tmp = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, open(tmp, "wb") as out:
            shutil.copyfileobj(resp, out, 1 << 20)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        tmp.unlink(missing_ok=True)
        reason = getattr(exc, "reason", None) or exc
        raise DownloadError(f"could not download {name} from {url} ({reason}); check the "
                            "network connection or pass a local copy", file=url) from exc
    tmp.replace(dest)


def _check_digest(zip_path: Path, expected: str | None, record: Path) -> str:
    """Compare with the expected digest, or with the one recorded on first use.

    Returns the archive's digest; records nothing (the caller does, once the
    archive has unpacked and validated).
    """
    actual = sha256_file(zip_path)
    if expected is None and record.is_file():
        recorded = record.read_text(encoding="utf-8", errors="replace").split()
        if not recorded:
            raise ArchiveError("the recorded digest is empty; delete the file to trust the "
                               "next download again", file=str(record))
        expected = recorded[0].strip()
    if expected is not None and actual != expected.lower():
        raise ArchiveError(f"SHA-256 mismatch: expected {expected}, got {actual}; the "
                           "download was deleted and nothing was unpacked", file=str(zip_path))
    return actual


def _safe_members(zf: zipfile.ZipFile, label: str) -> list[zipfile.ZipInfo]:
    members, total = [], 0
    for info in zf.infolist():
        name = info.filename.replace("\\", "/")
        parts = PurePosixPath(name).parts
        mode = info.external_attr >> 16
        if name.startswith("/") or (parts and ":" in parts[0]) or ".." in parts:
            raise ArchiveError(f"unsafe entry {info.filename!r} (absolute path or '..')",
                               file=label)
        if stat.S_ISLNK(mode):
            raise ArchiveError(f"unsafe entry {info.filename!r} (symbolic link)", file=label)
        total += info.file_size
        if total > MAX_UNPACKED_BYTES:
            raise ArchiveError(f"archive unpacks to more than {MAX_UNPACKED_BYTES} bytes",
                               file=label)
        members.append(info)
    return members


#: what reading a damaged or exotic zip entry raises (zipfile passes them through raw)
_ENTRY_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, zlib.error,
    RuntimeError, ValueError, OSError, struct.error)
try:  # optional in a Python build; zipfile raises its errors for LZMA entries
    import lzma

    _ENTRY_ERRORS += (lzma.LZMAError,)
except ImportError:  # pragma: no cover
    pass


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def safe_unpack(zip_path: Path, target: Path,
                validate: Callable[[Path], None] | None = None) -> Path:
    """Unpack into a temp folder beside ``target``, then rename it into place.

    A single top-level folder in the archive (``ml-latest-small/``) becomes
    ``target`` itself. ``validate(folder)`` runs on the unpacked folder before
    it is marked complete and moved; whatever it raises leaves nothing behind.
    Any problem with the archive itself is an :class:`ArchiveError`.
    """
    label = str(zip_path)
    try:
        zf = zipfile.ZipFile(zip_path)
    except _ENTRY_ERRORS as exc:
        raise ArchiveError(f"not a readable zip archive ({_one_line(exc)})",
                           file=label) from exc
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        with zf:
            for info in _safe_members(zf, label):
                dest = tmp.joinpath(*PurePosixPath(info.filename.replace("\\", "/")).parts)
                if info.is_dir():
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                try:
                    with zf.open(info) as src, open(dest, "wb") as out:
                        shutil.copyfileobj(src, out, 1 << 20)
                except _ENTRY_ERRORS as exc:
                    raise ArchiveError(
                        f"cannot read entry {info.filename!r} ({type(exc).__name__}: "
                        f"{_one_line(exc)}); the archive is damaged or uses a format this "
                        "Python cannot unpack", file=label) from exc
        entries = [p for p in tmp.iterdir() if not p.name.startswith("__MACOSX")]
        root = entries[0] if len(entries) == 1 and entries[0].is_dir() else tmp
        if validate is not None:
            validate(root)
        (root / _COMPLETE).write_text(sha256_file(zip_path) + "\n")
        if target.exists():
            shutil.rmtree(target)
        root.replace(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


#: the files each MovieLens layout must hold once unpacked
LAYOUTS = {"ml-100k": ("u.data", "u.item", "u.user"),
           "ml-latest": ("ratings.csv", "movies.csv")}


def validate_movielens(folder: Path, name: str, label: str) -> None:
    """The unpacked ``folder`` holds MovieLens data that loads; ArchiveError otherwise.

    ``ml-100k`` must have the 100K layout, ``ml-latest*`` the latest one; any
    other name may have either.
    """
    from .movielens_100k import load_movielens_100k
    from .movielens_latest import load_movielens_latest

    loaders = {"ml-100k": load_movielens_100k, "ml-latest": load_movielens_latest}
    wanted = ["ml-100k"] if name == "ml-100k" else \
        ["ml-latest"] if name.startswith("ml-latest") else list(LAYOUTS)
    for layout in wanted:
        if all((folder / f).is_file() for f in LAYOUTS[layout]):
            try:
                loaders[layout](folder)
            except DataError as exc:
                raise ArchiveError(f"the unpacked archive is not valid {layout} data "
                                   f"({_one_line(exc)})", file=label) from exc
            return
    expected = " or ".join(", ".join(LAYOUTS[layout]) for layout in wanted)
    raise ArchiveError(f"the archive holds no MovieLens data (expected {expected} at its "
                       "top level or in its one top folder)", file=label)


def download_movielens(name: str = "ml-latest-small", cache_dir: str | Path | None = None,
                       url: str | None = None, sha256: str | None = None,
                       timeout: float = 30) -> Path:
    """The unpacked data folder for ``name``, downloading it on first use only.

    ``url`` overrides the GroupLens address (a mirror, or a ``file://`` URL);
    then the known checksum no longer applies and ``sha256`` (or trust on first
    use) does. Raises DownloadError when the file cannot be fetched and
    ArchiveError (after deleting the archive) when it fails the checksum, holds
    unsafe or unreadable entries, or is not MovieLens data.
    """
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"invalid data set name {name!r}")
    if url is None:
        if name not in KNOWN:
            raise ValueError(f"unknown data set {name!r}; known: {sorted(KNOWN)} "
                             "(or pass url=...)")
        url, known_digest = KNOWN[name]
        sha256 = sha256 or known_digest
    cache = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / name
    if (target / _COMPLETE).is_file():
        return target
    zip_path = cache / f"{name}.zip"
    record = cache / f"{name}.zip.sha256"
    if not zip_path.is_file():
        _fetch(url, zip_path, timeout, name)
    try:
        actual = _check_digest(zip_path, sha256, record)
        safe_unpack(zip_path, target,
                    validate=lambda folder: validate_movielens(folder, name, str(zip_path)))
    except DataError:  # refused: never keep bytes that would fail the same way next time
        zip_path.unlink(missing_ok=True)
        raise
    if sha256 is None and not record.is_file():  # trust on first use, once it proved good
        record.write_text(f"{actual}  {zip_path.name}\n")
    return target
