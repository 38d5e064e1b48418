"""Property-based tests: random tables round-trip through the parsers; splitters always partition."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recframe.data.cache import load as cache_load
from recframe.data.cache import store as cache_store
from recframe.data.interactions import Interactions
from recframe.data.readers import read_delimited, read_user_lists
from recframe_datasets.generic import Table
from recframe_datasets.splitters import cold_items, leave_last_k, random_ratio, temporal_ratio

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ids_text = st.text(alphabet="abcXYZ0123456789_-", min_size=1, max_size=6)
ids_int = st.integers(min_value=-(10**12), max_value=10**12)
ids_digits = st.text(alphabet="0123456789", min_size=1, max_size=3)  # "007" and "7" are different ids


@st.composite
def tables(draw):
    n = draw(st.integers(1, 40))
    kind = draw(st.sampled_from(["text", "int", "digits"]))
    users = draw(
        st.lists(
            {"text": st.one_of(ids_text, ids_int.map(str)), "int": ids_int, "digits": ids_digits}[kind],
            min_size=n,
            max_size=n,
        )
    )
    items = draw(st.lists(ids_text if draw(st.booleans()) else ids_int, min_size=n, max_size=n))
    ratings = draw(st.lists(st.floats(-1e6, 1e6, allow_nan=False, width=32), min_size=n, max_size=n))
    times = draw(st.lists(st.integers(0, 2**40), min_size=n, max_size=n))
    return pd.DataFrame({"user": users, "item": items, "rating": ratings, "ts": times})


def check_roundtrip(frame: pd.DataFrame, data: Interactions) -> None:
    assert len(data) == len(frame)
    assert [str(x) for x in data.user_ids[data.user]] == [str(x) for x in frame["user"]]
    assert [str(x) for x in data.item_ids[data.item]] == [str(x) for x in frame["item"]]
    assert len(set(map(str, data.user_ids))) == data.n_users  # distinct raw ids stay distinct
    assert np.array_equal(data.rating, frame["rating"].to_numpy(np.float32))
    assert np.array_equal(data.timestamp, frame["ts"].to_numpy(np.int64))


@SETTINGS
@given(frame=tables(), sep=st.sampled_from([",", "\t", ";", "|"]))
def test_random_tables_round_trip_through_the_generic_source(frame, sep):
    cols = {"user": "user", "item": "item", "rating": "rating", "timestamp": "ts"}
    with tempfile.TemporaryDirectory() as tmp:
        frame.to_csv(Path(tmp) / "t.csv", sep=sep, index=False, float_format="%.9g")
        check_roundtrip(frame, Table(tmp, file="t.csv", sep=sep, columns=cols).load())
        frame.astype({"user": str, "item": str}).to_parquet(Path(tmp) / "t.parquet", index=False)
        check_roundtrip(frame, Table(tmp, file="t.parquet", columns=cols).load())


@SETTINGS
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 10**9), st.integers(0, 10**9), st.sampled_from([0.5, 1.0, 4.5]), st.integers(0, 2**40)
        ),
        min_size=1,
        max_size=50,
    ),
    sep=st.sampled_from(["::", "\t", "|"]),
)
def test_delimited_files_round_trip(rows, sep):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.dat"
        path.write_text("".join(sep.join(str(v) for v in r) + "\n" for r in rows))
        got = read_delimited(
            path, sep, ["u", "i", "r", "t"], dtype={"u": "int64", "i": "int64", "r": "float32", "t": "int64"}
        )
    assert list(got.itertuples(index=False, name=None)) == [tuple(r) for r in rows]


@SETTINGS
@given(
    lines=st.lists(
        st.tuples(st.integers(0, 10**6), st.lists(st.integers(0, 10**9), max_size=12)), min_size=1, max_size=30
    ),
    spacing=st.sampled_from([" ", "  ", "\t"]),
    ending=st.sampled_from(["\n", "\r\n", " \n"]),
)
def test_user_lists_round_trip(lines, spacing, ending):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "l.txt"
        path.write_text("".join(spacing.join(map(str, [u, *items])) + ending for u, items in lines), newline="")
        user, item, pos = read_user_lists(path)
    want = [(u, it, p) for u, items in lines for p, it in enumerate(items)]
    assert list(zip(user.tolist(), item.tolist(), pos.tolist())) == want


@st.composite
def interactions(draw):
    n_users, n_items = draw(st.integers(1, 8)), draw(st.integers(2, 10))
    n = draw(st.integers(1, 60))
    user = np.array(draw(st.lists(st.integers(0, n_users - 1), min_size=n, max_size=n)))
    item = np.array(draw(st.lists(st.integers(0, n_items - 1), min_size=n, max_size=n)))
    ts = np.array(draw(st.lists(st.integers(0, 5), min_size=n, max_size=n)))
    return Interactions(
        user=user, item=item, n_users=n_users, n_items=n_items, timestamp=ts, rating=np.ones(n, np.float32)
    )


def rows_of(split) -> list:
    return sorted(
        (int(u), int(i), int(t))
        for part in (split.train, split.valid, split.test)
        for u, i, t in zip(part.user, part.item, part.timestamp)
    )


@SETTINGS
@given(data=interactions(), seed=st.integers(0, 2**31), k=st.integers(1, 3), valid_k=st.integers(0, 2))
def test_splitters_partition_the_rows(data, seed, k, valid_k):
    everything = sorted(zip(data.user.tolist(), data.item.tolist(), data.timestamp.tolist()))
    for split in (
        random_ratio(data, seed=seed),
        temporal_ratio(data),
        temporal_ratio(data, group_by=None),
        leave_last_k(data, k=k, valid_k=valid_k, order="time"),
        leave_last_k(data, k=k, valid_k=valid_k, order="random", seed=seed),
        cold_items(data, seed=seed),
    ):
        assert rows_of(split) == everything
        assert split.n_users == data.n_users and split.n_items == data.n_items
    split = leave_last_k(data, k=k, valid_k=valid_k)
    deg = np.bincount(data.user, minlength=data.n_users)
    train_deg = np.bincount(split.train.user, minlength=data.n_users)
    assert (train_deg[deg > 0] >= 1).all()
    assert (np.bincount(split.test.user, minlength=data.n_users) == np.minimum(k, np.maximum(deg - 1, 0))).all()


@SETTINGS
@given(data=interactions())
def test_cache_round_trip(data):
    data.item_features = pd.DataFrame({"item": np.arange(data.n_items), "tags": [[1, 2]] * data.n_items})
    with tempfile.TemporaryDirectory() as tmp:
        cache_store(Path(tmp) / "e", data)
        back = cache_load(Path(tmp) / "e")
    assert back is not None and len(back) == len(data)
    for name in ("user", "item", "rating", "timestamp", "user_ids", "item_ids"):
        assert np.array_equal(getattr(back, name), getattr(data, name))
    assert back.item_features["tags"].map(list).tolist() == [[1, 2]] * data.n_items


@SETTINGS
@given(
    values=st.one_of(
        st.lists(st.integers(-(2**62), 2**62), max_size=50),
        st.lists(st.integers(-5, 30), max_size=50),
        st.lists(ids_text, max_size=30),
    )
)
def test_dense_ids_equal_numpy_unique(values):
    from recframe.data.interactions import dense_ids

    raw = np.array(values) if values else np.array([], dtype=np.int64)
    uniq, inverse = dense_ids(raw)
    want_u, want_i = np.unique(raw, return_inverse=True)
    assert np.array_equal(uniq, want_u) and uniq.dtype == want_u.dtype
    assert np.array_equal(inverse, want_i.ravel()) and inverse.dtype == np.int64
