"""Bad data fails in one line naming the file, line, column or config key, or follows a declared
policy; an interrupted or damaged cache never loads."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recframe import paths
from recframe.cli import main
from recframe.data import cache
from recframe.data.filters import apply_filters
from recframe.data.interactions import Interactions
from recframe.data.source import load_dataset
from recframe.errors import ConfigError, DataError
from recframe_datasets.generic import Table
from recframe_datasets.movielens import MovieLens1M, MovieLens100K
from recframe_datasets.sequences import SequenceLines


def one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg, msg
    return msg


@pytest.fixture
def ml1m_copy(tmp_path, data_dir) -> Path:
    """A writable ML-1M folder: small ``ratings.dat`` (first 50 lines) plus the real side files."""
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    for name in ("users.dat", "movies.dat"):
        shutil.copy(data_dir / "ml-1m" / name, folder / name)
    with open(data_dir / "ml-1m" / "ratings.dat", encoding="latin-1") as fh:
        head = [next(fh) for _ in range(50)]
    (folder / "ratings.dat").write_text("".join(head))
    return folder


def write_line(folder: Path, line_no: int, text: str) -> None:
    lines = (folder / "ratings.dat").read_text().splitlines(keepends=True)
    lines[line_no - 1] = text + "\n"
    (folder / "ratings.dat").write_text("".join(lines))


@pytest.mark.parametrize(
    "line, text, expected",
    [
        (
            7,
            "1::661::3::978302109::9",
            "ratings.dat, line 7: malformed line (5 fields, expected 4: user, item, rating, timestamp",
        ),
        (12, "1::661::3", "ratings.dat, line 12: malformed line (3 of 4 fields"),
        (3, "1:661::3::978302109", "ratings.dat, line 3: malformed line (a field holds ':'"),
        (9, "1::661::x::978302109", "ratings.dat, line 9: rating 'x' is not a number"),
        (5, "1::661::::978302109", "ratings.dat, line 5: malformed line (3 of 4 fields"),
        (11, "1::6:61:3::978302109", "ratings.dat, line 11: malformed line (a field holds ':'"),  # 6 colons, misplaced
    ],
)
def test_ml1m_malformed_lines_name_file_and_line(ml1m_copy, line, text, expected):
    write_line(ml1m_copy, line, text)
    with pytest.raises(DataError) as exc:
        MovieLens1M(ml1m_copy).load()
    assert expected in one_line(exc)


def test_wrong_separator_is_named(ml1m_copy):
    text = (ml1m_copy / "ratings.dat").read_text().replace("::", "\t")
    (ml1m_copy / "ratings.dat").write_text(text)
    with pytest.raises(DataError) as exc:
        MovieLens1M(ml1m_copy).load()
    assert "ratings.dat, line 1: malformed line (1 of 4 fields; is the separator '::'?)" in one_line(exc)


def test_empty_file(ml1m_copy, tmp_path):
    (ml1m_copy / "ratings.dat").write_text("")
    with pytest.raises(DataError) as exc:
        MovieLens1M(ml1m_copy).load()
    assert one_line(exc).endswith("ratings.dat is empty")
    (tmp_path / "s.txt").write_text("\n\n")
    with pytest.raises(DataError, match="s.txt is empty"):
        SequenceLines(tmp_path, file="s.txt").load()


def test_wrong_encoding_is_reported_and_unknown_encoding_is_a_config_error(ml1m_copy):
    with pytest.raises(DataError) as exc:
        MovieLens1M(ml1m_copy, encoding="utf-8").load()  # movies.dat is Latin-1
    assert "movies.dat: not valid utf-8 text" in one_line(exc) and "data.encoding" in str(exc.value)
    with pytest.raises(ConfigError) as exc:
        MovieLens1M(ml1m_copy, encoding="klingon-8").load()
    assert "data.encoding: unknown text encoding 'klingon-8'" in one_line(exc)


def test_nan_and_non_numeric_ratings_in_csv(tmp_path):
    (tmp_path / "r.csv").write_text("u,i,r\n1,1,4\n1,2,\n")
    cols = {"user": "u", "item": "i", "rating": "r"}
    with pytest.raises(DataError) as exc:
        Table(tmp_path, file="r.csv", columns=cols).load()
    assert "r.csv, line 3: the rating column 'r' is empty" in one_line(exc)
    (tmp_path / "r.csv").write_text("u,i,r\n1,1,4\n\n1,2,nan\n")
    with pytest.raises(DataError) as exc:
        Table(tmp_path, file="r.csv", columns=cols).load()
    assert "r.csv, line 4: rating 'nan' is not a number" in one_line(exc)  # the blank line still counts
    (tmp_path / "r.csv").write_text("u,i,r\n1,1,4\n1,2,five\n")
    with pytest.raises(DataError) as exc:
        Table(tmp_path, file="r.csv", columns=cols).load()
    assert "r.csv, line 3: rating 'five' is not a number" in one_line(exc)


def test_nan_rating_in_parquet(tmp_path):
    pd.DataFrame({"u": [1, 2], "i": [1, 1], "r": [1.0, np.nan]}).to_parquet(tmp_path / "r.parquet")
    with pytest.raises(DataError, match=r"r.parquet, line 2: the rating column 'r' is empty"):
        Table(tmp_path, file="r.parquet", columns={"user": "u", "item": "i", "rating": "r"}).load()


def test_string_ids_are_remapped_and_the_map_kept(tmp_path):
    (tmp_path / "e.csv").write_text("user,item\nbob,x9\nalice,x10\nbob,x10\n007,x9\n")
    data = Table(tmp_path, file="e.csv", columns={"user": "user", "item": "item"}).load()
    assert data.user_ids.tolist() == ["007", "alice", "bob"]  # "007" is not silently turned into 7
    assert data.item_ids[data.item].tolist() == ["x9", "x10", "x10", "x9"]
    assert data.user_ids[data.user].tolist() == ["bob", "alice", "bob", "007"]


@pytest.mark.parametrize(
    "policy, expected",
    [
        ("keep", [(1, 1, 5.0), (1, 1, 2.0), (2, 1, 3.0), (1, 1, 4.0)]),
        ("first", [(1, 1, 2.0), (2, 1, 3.0)]),  # earliest timestamp (200) wins, not the first line
        ("last", [(2, 1, 3.0), (1, 1, 4.0)]),
        ("max_rating", [(1, 1, 5.0), (2, 1, 3.0)]),
    ],
)
def test_duplicate_pairs_follow_the_configured_policy(tmp_path, policy, expected):
    (tmp_path / "d.csv").write_text("u,i,r,t\n1,1,5,300\n1,1,2,200\n2,1,3,100\n1,1,4,400\n")
    data = Table(
        tmp_path, file="d.csv", columns={"user": "u", "item": "i", "rating": "r", "timestamp": "t"}, duplicates=policy
    ).load()
    got = list(zip(data.user_ids[data.user].tolist(), data.item_ids[data.item].tolist(), data.rating.tolist()))
    assert got == expected


def test_duplicate_pairs_error_policy(tmp_path):
    (tmp_path / "d.csv").write_text("u,i\n1,1\n1,1\n")
    with pytest.raises(DataError) as exc:
        Table(tmp_path, file="d.csv", columns={"user": "u", "item": "i"}, duplicates="error").load()
    assert "1 duplicate user-item row(s); set data.duplicates" in one_line(exc)
    with pytest.raises(ConfigError, match="data.duplicates 'drop' is not one of"):
        Table(tmp_path, file="d.csv", columns={"user": "u", "item": "i"}, duplicates="drop")


def test_column_mapping_naming_a_missing_column(tmp_path):
    (tmp_path / "e.csv").write_text("user_id,item_id,rating\n1,2,3\n")
    with pytest.raises(ConfigError) as exc:
        Table(tmp_path, file="e.csv", columns={"user": "user_id", "item": "movie_id"}).load()
    assert "data.columns.item: column 'movie_id' is not in e.csv (columns: user_id, item_id, rating)" in one_line(exc)
    with pytest.raises(ConfigError, match="data.columns.user is missing"):
        Table(tmp_path, file="e.csv", columns={"item": "item_id"})
    with pytest.raises(ConfigError, match="is the separator ';' right"):
        Table(tmp_path, file="e.csv", sep=";", columns={"user": "user_id", "item": "item_id"}).load()


def test_column_mapping_error_through_the_cli(capsys, tmp_path):
    (tmp_path / "e.csv").write_text("a,b\n1,2\n")
    code = main(
        [
            "data.name=table",
            f"data.path={tmp_path}",
            "+data.file=e.csv",
            "+data.columns={user: a, item: c}",
            "model=pop",
            "data_cache=false",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "error: data.columns.item: column 'c' is not in e.csv (columns: a, b)" in err


def test_bad_token_in_user_lists_names_line(tmp_path):
    (tmp_path / "s.txt").write_text("1 2 3\n2 4 x5 6\n")
    with pytest.raises(DataError) as exc:
        SequenceLines(tmp_path, file="s.txt").load()
    assert "s.txt, line 2: 'x5' is not an integer id" in one_line(exc)


def test_filter_that_empties_the_data(tiny_interactions):
    with pytest.raises(DataError) as exc:
        apply_filters(tiny_interactions, [{"name": "kcore", "k": 1000}])
    assert "protocol.filters[0] (kcore {'k': 1000}) removed every interaction; loosen it" in one_line(exc)
    with pytest.raises(ConfigError, match=r"protocol.filters\[0\]: kcore user must be an integer >= 0, got -1"):
        apply_filters(tiny_interactions, [{"name": "kcore", "k": -1}])
    with pytest.raises(ConfigError, match=r"protocol.filters\[1\].name 'kcor' is unknown"):
        apply_filters(tiny_interactions, [{"name": "dedup"}, {"name": "kcor", "k": 2}])
    with pytest.raises(ConfigError, match=r"protocol.filters\[0\] \(kcore\):.*'kk'"):
        apply_filters(tiny_interactions, [{"name": "kcore", "kk": 2}])


def test_min_rating_drops_nan_ratings():
    data = Interactions(
        user=[0, 0, 1], item=[0, 1, 1], n_users=2, n_items=2, rating=np.array([4, np.nan, 3], dtype=np.float32)
    )
    out = apply_filters(data, [{"name": "min_rating", "threshold": 3}])
    assert out.rating.tolist() == [4.0, 3.0]


# --- the dataset cache ---------------------------------------------------------------------------


def entry_of(name: str) -> list[Path]:
    return sorted((paths.cache_dir() / "datasets").glob(f"{name}-*"))


def test_interrupted_cache_write_never_loads(ml100k, monkeypatch, caplog):
    """The parquet write fails half-way (after arrays.npz): no entry appears, the next load re-parses."""
    calls = {"load": 0}
    real_load = MovieLens100K.load

    def counting_load(self):
        calls["load"] += 1
        return real_load(self)

    monkeypatch.setattr(MovieLens100K, "load", counting_load)
    source = MovieLens100K(ml100k)
    shutil.rmtree(paths.cache_dir() / "datasets", ignore_errors=True)

    def boom(self, *a, **k):
        raise OSError("disk full")

    with monkeypatch.context() as m:
        m.setattr(pd.DataFrame, "to_parquet", boom)
        first = load_dataset("ml-100k", source)
    assert "could not write dataset cache" in caplog.text
    assert entry_of("ml-100k") == []  # the half-written temporary folder was removed
    assert not any((paths.cache_dir() / "datasets").glob(".*"))
    second = load_dataset("ml-100k", source)
    assert calls["load"] == 2  # parsed again, not served from a partial entry
    third = load_dataset("ml-100k", source)
    assert calls["load"] == 2  # and now cached
    for other in (second, third):
        assert np.array_equal(first.user, other.user) and np.array_equal(first.rating, other.rating)
        assert first.item_features.equals(other.item_features)


@pytest.mark.parametrize("damage", ["truncate_npz", "drop_rows", "old_version", "bad_parquet"])
def test_damaged_cache_entry_is_a_miss(ml100k, damage):
    source = MovieLens100K(ml100k)
    shutil.rmtree(paths.cache_dir() / "datasets", ignore_errors=True)
    fresh = load_dataset("ml-100k", source)
    (entry,) = entry_of("ml-100k")
    if damage == "truncate_npz":
        raw = (entry / "arrays.npz").read_bytes()
        (entry / "arrays.npz").write_bytes(raw[: len(raw) // 2])
    elif damage == "drop_rows":
        arrays = dict(np.load(entry / "arrays.npz"))
        arrays["rating"] = arrays["rating"][:-1]
        np.savez(entry / "arrays.npz", **arrays)
    elif damage == "old_version":
        (entry / "meta.json").write_text(
            (entry / "meta.json").read_text().replace('"format_version": 2', '"format_version": 1')
        )
    else:
        (entry / "item_features.parquet").write_bytes(b"not parquet")
    assert cache.load(entry) is None
    again = load_dataset("ml-100k", source)
    assert np.array_equal(again.rating, fresh.rating) and len(again) == 100_000


def test_cache_key_follows_file_and_options(ml1m_copy):
    first = load_dataset("ml-1m", MovieLens1M(ml1m_copy))
    write_line(ml1m_copy, 1, "1::1193::4::978300760")  # same length, new content and mtime
    assert load_dataset("ml-1m", MovieLens1M(ml1m_copy)).rating[0] == 4.0 != first.rating[0]
    assert len(entry_of("ml-1m")) == 2


def test_csv_line_with_too_many_fields(tmp_path):
    (tmp_path / "e.csv").write_text("u,i\n1,2\n3,4,5\n")
    with pytest.raises(DataError) as exc:
        Table(tmp_path, file="e.csv", columns={"user": "u", "item": "i"}).load()
    assert "e.csv, line 3: malformed line (3 fields, more than the header's" in one_line(exc)


def test_killed_writer_leftovers_never_load_and_are_swept(ml100k):
    import os
    import time

    source = MovieLens100K(ml100k)
    shutil.rmtree(paths.cache_dir() / "datasets", ignore_errors=True)
    load_dataset("ml-100k", source)
    (entry,) = entry_of("ml-100k")
    shutil.rmtree(entry)
    # what a writer killed mid-write leaves: a hidden temporary folder with a partial entry
    stale = entry.parent / f".{entry.name}.abc123.tmp"
    stale.mkdir()
    (stale / "meta.json").write_text('{"format_version": 2, "n_users": 1, "n_items": 1, "length": 0, "meta": {}}')
    old = time.time() - 7200
    os.utime(stale, (old, old))
    assert entry_of("ml-100k") == []
    data = load_dataset("ml-100k", source)  # a miss: parsed again, and the leftover swept
    assert len(data) == 100_000 and not stale.exists() and len(entry_of("ml-100k")) == 1
