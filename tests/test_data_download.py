"""Downloads: checksum before unpacking, safe unpacking, caching, and the offline fallback."""

from __future__ import annotations

import hashlib
import shutil
import stat
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
