"""``recframe download``: fetch, verify, extract atomically. Only local files, never the network."""

from __future__ import annotations

import urllib.request
import zipfile
from pathlib import Path

import pytest

from recframe.cli import main
from recframe.data import download as dl
from recframe.data.source import DataSource, Download, load_dataset
from recframe.errors import DataError
from recframe_datasets.movielens import MovieLens1M, MovieLens100K

ML100K_FILES = ("u.data", "u.user", "u.item", "u.genre")


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to reach a real URL fails the test."""
    real = urllib.request.urlopen

    def guarded(url, *args, **kwargs):
        assert str(url).startswith("file://"), f"test tried to reach the network: {url}"
        return real(url, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", guarded)


@pytest.fixture
def local_archive(tmp_path, ml100k) -> Path:
    """A GroupLens-shaped ml-100k.zip built from the local files."""
    archive = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in ML100K_FILES:
            zf.write(ml100k / name, f"ml-100k/{name}")
    return archive


def use_archive(monkeypatch, archive: Path, sha256: dict[str, str] | None = None) -> None:
    spec = MovieLens100K.download
    monkeypatch.setattr(
        MovieLens100K,
        "download",
        Download(archive.as_uri(), spec.sha256 if sha256 is None else sha256, spec.archive_root),
    )


def test_download_fetches_verifies_and_loads(tmp_path, monkeypatch, local_archive, capsys):
    use_archive(monkeypatch, local_archive)
    monkeypatch.setenv("RECFRAME_DATA_DIR", str(tmp_path / "data"))
    assert main(["download", "ml-100k"]) == 0
    out = capsys.readouterr().out
    assert "ml-100k: downloaded to" in out and "sha256 verified: u.data, u.user, u.item" in out
    folder = tmp_path / "data" / "ml-100k"
    assert sorted(p.name for p in folder.iterdir()) == ["u.data", "u.item", "u.user"]
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["ml-100k"]  # no temporary left
    data = load_dataset("ml-100k", MovieLens100K(folder))
    assert data.counts() == {"users": 943, "items": 1682, "interactions": 100_000}
    # a second call finds the files, checks them and fetches nothing
    assert main(["download", "ml-100k"]) == 0
    assert "already present in" in capsys.readouterr().out


def test_wrong_checksum_fails_and_leaves_nothing(tmp_path, monkeypatch, local_archive, capsys):
    bad = dict(MovieLens100K.download.sha256, **{"u.item": "0" * 64})
    use_archive(monkeypatch, local_archive, bad)
    monkeypatch.setenv("RECFRAME_DATA_DIR", str(tmp_path / "data"))
    assert main(["download", "ml-100k"]) == 2
    # the last stderr line (earlier Hydra runs in the session may leave stray logging handlers)
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: checksum mismatch for u.item") and "expected 00000000" in err
    assert list((tmp_path / "data").iterdir()) == []  # no folder, no file (not even those that verified)


def test_archive_without_a_file_and_a_corrupt_archive(tmp_path, monkeypatch, ml100k):
    partial = tmp_path / "partial.zip"
    with zipfile.ZipFile(partial, "w") as zf:
        zf.write(ml100k / "u.data", "ml-100k/u.data")
    use_archive(monkeypatch, partial)
    with pytest.raises(DataError, match="has no ml-100k/u.user"):
        dl.download("ml-100k", path=tmp_path / "a" / "ml-100k")
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"<html>not found</html>")
    use_archive(monkeypatch, junk)
    with pytest.raises(DataError, match="is not a zip archive"):
        dl.download("ml-100k", path=tmp_path / "b" / "ml-100k")
    assert list((tmp_path / "a").iterdir()) == [] and list((tmp_path / "b").iterdir()) == []


def test_unreachable_url_is_one_line(tmp_path, monkeypatch):
    use_archive(monkeypatch, tmp_path / "missing.zip")
    with pytest.raises(DataError, match=r"could not download file://.*missing.zip"):
        dl.download("ml-100k", path=tmp_path / "x")


def test_unverified_files_are_reported(tmp_path, monkeypatch, local_archive):
    use_archive(monkeypatch, local_archive, {"u.data": MovieLens100K.download.sha256["u.data"]})
    summary = dl.download("ml-100k", path=tmp_path / "d")
    assert summary["verified"] == ["u.data"] and summary["unverified"] == ["u.user", "u.item"]


def test_declared_hashes_match_the_local_originals(ml100k, data_dir):
    for name, digest in MovieLens100K.download.sha256.items():
        assert dl.sha256_file(ml100k / name) == digest
    # ml-1m: only the byte-for-byte GroupLens files are declared; the rebuilt ratings.dat is not
    assert set(MovieLens1M.download.sha256) == {"movies.dat", "users.dat"}
    for name, digest in MovieLens1M.download.sha256.items():
        assert dl.sha256_file(data_dir / "ml-1m" / name) == digest


def test_missing_files_point_at_the_download_command(tmp_path, monkeypatch):
    monkeypatch.setenv("RECFRAME_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match=r"run 'recframe download ml-1m' to fetch it"):
        load_dataset("ml-1m", MovieLens1M(tmp_path / "ml-1m"))


def test_source_without_download_spec(tmp_path):
    class Local(DataSource):
        files = ("x.txt",)

    with pytest.raises(DataError, match="has no download location"):
        dl.download_source("local", Local(tmp_path))
