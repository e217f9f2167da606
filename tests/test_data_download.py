"""Downloads: checksum before unpacking, safe unpacking, caching, and the offline fallback."""

from __future__ import annotations

import hashlib
import shutil
import stat
import struct
import zipfile
from pathlib import Path

import pytest

import recengine.data.download as download
from recengine.data import (
    ArchiveError,
    DownloadError,
    download_movielens,
    load_movielens_latest,
    load_with_fallback,
)

MOVIES = "movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n2,Heat (1995),Crime\n"
RATINGS = "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,2,3.5,964982931\n2,1,5.0,9\n"


def make_zip(path: Path, entries: dict[str, str], symlink: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in entries.items():
            zf.writestr(name, text)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return path


@pytest.fixture
def latest_zip(tmp_path) -> Path:
    return make_zip(tmp_path / "ml-latest-small.zip",
                    {"ml-latest-small/movies.csv": MOVIES, "ml-latest-small/ratings.csv": RATINGS})


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_download_verifies_unpacks_and_loads(tmp_path, latest_zip):
    cache = tmp_path / "cache"
    folder = download_movielens("ml-latest-small", cache_dir=cache, url=latest_zip.as_uri(),
                                sha256=sha(latest_zip))
    assert folder == cache / "ml-latest-small"
    data = load_movielens_latest(folder)
    assert (data.n_items, data.n_users, len(data.interactions)) == (2, 2, 3)
    assert not list(cache.glob(".ml-latest-small-*"))  # no temp folder left behind


def test_second_call_uses_the_cache(tmp_path, latest_zip):
    cache = tmp_path / "cache"
    url = latest_zip.as_uri()
    first = download_movielens("ml-latest-small", cache_dir=cache, url=url)
    latest_zip.unlink()  # the source is gone: only the cache can answer now
    assert download_movielens("ml-latest-small", cache_dir=cache, url=url) == first


def test_cache_dir_defaults_to_the_environment(tmp_path, latest_zip, monkeypatch):
    monkeypatch.setenv("RECENGINE_CACHE", str(tmp_path / "env-cache"))
    folder = download_movielens("ml-latest-small", url=latest_zip.as_uri())
    assert folder.parent == tmp_path / "env-cache"


def test_checksum_mismatch_is_refused_before_unpacking(tmp_path, latest_zip):
    cache = tmp_path / "cache"
    with pytest.raises(ArchiveError, match="SHA-256 mismatch"):
        download_movielens("ml-latest-small", cache_dir=cache, url=latest_zip.as_uri(),
                           sha256="0" * 64)
    assert not (cache / "ml-latest-small").exists()
    assert not (cache / "ml-latest-small.zip").exists()


def test_first_digest_is_recorded_and_enforced(tmp_path, latest_zip):
    cache = tmp_path / "cache"
    download_movielens("ml-latest-small", cache_dir=cache, url=latest_zip.as_uri())
    record = cache / "ml-latest-small.zip.sha256"
    assert record.read_text().split()[0] == sha(latest_zip)
    # the server now serves other bytes under the same name: refused
    changed = make_zip(tmp_path / "changed.zip", {"ml-latest-small/movies.csv": MOVIES})
    shutil.rmtree(cache / "ml-latest-small")
    (cache / "ml-latest-small.zip").unlink()
    with pytest.raises(ArchiveError, match="mismatch"):
        download_movielens("ml-latest-small", cache_dir=cache, url=changed.as_uri())


@pytest.mark.parametrize("evil", ["../evil.csv", "/tmp/evil.csv", "ml/../../evil.csv"])
def test_path_escaping_entries_are_refused(tmp_path, evil):
    archive = make_zip(tmp_path / "evil.zip", {"ml/movies.csv": MOVIES, evil: "x"})
    cache = tmp_path / "cache"
    with pytest.raises(ArchiveError, match="unsafe entry"):
        download_movielens("ml-evil", cache_dir=cache, url=archive.as_uri())
    assert not (cache / "ml-evil").exists()
    assert not (tmp_path / "evil.csv").exists()


def test_symlink_entries_are_refused(tmp_path):
    archive = make_zip(tmp_path / "link.zip", {"ml/movies.csv": MOVIES}, symlink="ml/link")
    with pytest.raises(ArchiveError, match="symbolic link"):
        download_movielens("ml-link", cache_dir=tmp_path / "cache", url=archive.as_uri())


def test_unreachable_url_is_a_download_error(tmp_path):
    missing = (tmp_path / "nothing-here.zip").as_uri()
    with pytest.raises(DownloadError, match="could not download ml-latest-small"):
        download_movielens("ml-latest-small", cache_dir=tmp_path / "cache", url=missing)
    assert not (tmp_path / "cache" / "ml-latest-small.zip.part").exists()


def test_unknown_name_without_url_is_refused(tmp_path):
    with pytest.raises(ValueError, match="known"):
        download_movielens("ml-999", cache_dir=tmp_path)


def test_known_urls_carry_published_checksums():
    for name, (url, digest) in download.KNOWN.items():
        assert url.endswith(f"/{name}.zip") and url.startswith("https://")
        assert digest is None or len(digest) == 64


def test_no_network_falls_back_to_synthetic_with_a_notice(tmp_path, monkeypatch):
    def offline(url, dest, timeout, name):
        raise DownloadError(f"could not download {name} from {url} (no route to host)")

    monkeypatch.setattr(download, "_fetch", offline)
    monkeypatch.setenv("RECENGINE_CACHE", str(tmp_path / "empty-cache"))
    data, notice = load_with_fallback("download:ml-latest-small")
    assert data.name == "synthetic" and data.source == "synthetic"
    assert notice == ("No network: could not download ml-latest-small; showing the synthetic "
                      "demo data instead.")


def test_fallback_is_silent_when_loading_works():
    data, notice = load_with_fallback("synthetic:users=20,items=40")
    assert notice is None and data.n_users == 20


def test_download_source_spec_reloads_from_cache(tmp_path, latest_zip, monkeypatch):
    from recengine.data import load_source

    monkeypatch.setenv("RECENGINE_CACHE", str(tmp_path / "cache"))
    download_movielens("ml-latest-small", url=latest_zip.as_uri())  # warm the cache
    data = load_source("download:ml-latest-small")
    assert data.source == "download:ml-latest-small" and data.n_items == 2


# ----- refused archives leave nothing behind; trust on first use only once proved good -----
TAGS = "userId,movieId,tag,timestamp\n1,1,pixar,1139045764\n2,2,heist,1139045765\n"
README = "Summary\n=======\nA tiny archive in the MovieLens latest-small layout, for tests.\n"


def latest_layout(top: str = "ml-latest-small") -> dict[str, str]:
    """ratings.csv, movies.csv, tags.csv and README.txt under one top folder, as GroupLens has."""
    return {f"{top}/ratings.csv": RATINGS, f"{top}/movies.csv": MOVIES,
            f"{top}/tags.csv": TAGS, f"{top}/README.txt": README}


def assert_nothing_kept(cache: Path, name: str = "ml-latest-small") -> None:
    assert not (cache / f"{name}.zip").exists(), "the refused archive was kept"
    assert not (cache / f"{name}.zip.sha256").exists(), "a refused archive's digest was trusted"
    assert not (cache / name).exists()
    assert not list(cache.glob(f".{name}-*")), "a temporary folder was left behind"


@pytest.mark.parametrize("problem", ["checksum", "unsafe entry", "not a zip", "no movielens data",
                                     "bad movielens data"])
def test_a_refused_archive_is_deleted_from_the_cache(tmp_path, problem):
    entries, digest = latest_layout(), None
    if problem == "unsafe entry":
        entries["../evil.csv"] = "x"
    if problem == "no movielens data":
        entries = {"ml-latest-small/README.txt": README}
    if problem == "bad movielens data":
        entries["ml-latest-small/ratings.csv"] = "userId,movieId,rating,timestamp\n1,1,good,9\n"
    archive = make_zip(tmp_path / "source.zip", entries)
    if problem == "checksum":
        digest = "0" * 64
    if problem == "not a zip":
        archive.write_bytes(b"<html>this mirror serves an error page</html>\n")
    cache = tmp_path / "cache"
    with pytest.raises(ArchiveError) as info:
        download_movielens("ml-latest-small", cache_dir=cache, url=archive.as_uri(),
                           sha256=digest)
    assert "\n" not in str(info.value)
    assert_nothing_kept(cache)


def test_first_use_digest_is_recorded_only_after_the_archive_unpacked_and_validated(tmp_path):
    cache = tmp_path / "cache"
    source = tmp_path / "served.zip"
    make_zip(source, {**latest_layout(), "ml-latest-small/../../evil.csv": "x"})
    with pytest.raises(ArchiveError, match="unsafe entry"):
        download_movielens("ml-latest-small", cache_dir=cache, url=source.as_uri())
    assert_nothing_kept(cache)
    make_zip(source, {"ml-latest-small/README.txt": README})  # unpacks, but is no data set
    with pytest.raises(ArchiveError, match="no MovieLens data"):
        download_movielens("ml-latest-small", cache_dir=cache, url=source.as_uri())
    assert_nothing_kept(cache)
    # the mirror is fixed: its good archive is not held to a digest of the bad ones
    make_zip(source, latest_layout())
    folder = download_movielens("ml-latest-small", cache_dir=cache, url=source.as_uri())
    assert (folder / "ratings.csv").is_file()
    assert (cache / "ml-latest-small.zip.sha256").read_text().split()[0] == sha(source)


def damage(archive: Path, member: str, how: str) -> Path:
    """Edit bytes of a valid (stored) zip so reading ``member`` fails, as a broken file would."""
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(member)
    local = info.header_offset
    name_len, extra_len = struct.unpack_from("<HH", data, local + 26)
    central = next(k for k in range(len(data) - 46)
                   if data[k:k + 4] == b"PK\x01\x02"
                   and data[k + 46:k + 46 + len(member)] == member.encode())
    if how == "bad crc":  # one flipped byte of the entry's (stored) data
        data[local + 30 + name_len + extra_len + 5] ^= 0xFF
    elif how == "lying size":  # both headers claim a smaller uncompressed size
        struct.pack_into("<I", data, local + 22, info.file_size - 7)
        struct.pack_into("<I", data, central + 24, info.file_size - 7)
    elif how == "unsupported method":  # compression method 99 in both headers
        struct.pack_into("<H", data, local + 8, 99)
        struct.pack_into("<H", data, central + 10, 99)
    archive.write_bytes(bytes(data))
    return archive


@pytest.mark.parametrize("how", ["bad crc", "lying size", "unsupported method"])
def test_reading_a_damaged_entry_is_one_archive_error(tmp_path, how):
    archive = damage(make_zip(tmp_path / "source.zip", latest_layout()),
                     "ml-latest-small/movies.csv", how)
    cache = tmp_path / "cache"
    with pytest.raises(ArchiveError) as info:
        download_movielens("ml-latest-small", cache_dir=cache, url=archive.as_uri(),
                           sha256=sha(archive))
    message = str(info.value)
    assert message.startswith("cannot read entry 'ml-latest-small/movies.csv'")
    assert "\n" not in message
    assert isinstance(info.value.__cause__, zipfile.BadZipFile | NotImplementedError)
    assert_nothing_kept(cache)


# ----- the command line -----------------------------------------------------------------
def test_cli_download_verifies_unpacks_into_the_cache_and_prints_where(tmp_path, monkeypatch,
                                                                         capsys):
    from recengine.cli import main

    archive = make_zip(tmp_path / "ml-latest-small.zip", latest_layout())
    monkeypatch.setenv("RECENGINE_CACHE", str(tmp_path / "cache"))
    rc = main(["download", "ml-latest-small", "--url", archive.as_uri(),
               "--sha256", sha(archive)])
    out = capsys.readouterr().out
    folder = tmp_path / "cache" / "ml-latest-small"
    assert rc == 0 and out.strip() == str(folder)
    assert {p.name for p in folder.iterdir()} >= {"ratings.csv", "movies.csv", "tags.csv",
                                                   "README.txt"}
    data = load_movielens_latest(folder)
    assert len(data.interactions) == 3 and data.items["tags"].tolist() == ["pixar", "heist"]


@pytest.mark.parametrize("args, message", [
    (["--sha256", "0" * 64], "SHA-256 mismatch"),
    (["--sha256", "abc"], "--sha256 must be 64 hex digits"),
    ([], None),
], ids=["wrong digest", "malformed digest", "unknown name"])
def test_cli_download_errors_are_one_line_and_exit_2(tmp_path, monkeypatch, capsys, args,
                                                       message):
    from recengine.cli import main

    archive = make_zip(tmp_path / "ml-latest-small.zip", latest_layout())
    monkeypatch.setenv("RECENGINE_CACHE", str(tmp_path / "cache"))
    name = "ml-latest-small" if message else "ml-1b"
    rc = main(["download", name, "--url", archive.as_uri(), *args])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert (message or "unknown download 'ml-1b'") in err
    assert not (tmp_path / "cache" / "ml-latest-small.zip").exists()


def test_python_dash_m_recengine_download_runs(tmp_path):
    import os
    import subprocess
    import sys

    archive = make_zip(tmp_path / "ml-latest-small.zip", latest_layout())
    env = {**os.environ, "RECENGINE_CACHE": str(tmp_path / "cache"),
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-m", "recengine", "download", "ml-latest-small",
                           "--url", archive.as_uri(), "--sha256", sha(archive)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path / "cache" / "ml-latest-small")
