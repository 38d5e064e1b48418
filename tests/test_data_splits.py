"""Splitters follow their declared rules exactly; filters reproduce RecBole's ML-1M benchmark counts."""

from __future__ import annotations

import numpy as np
import pytest

from recframe import config as rconfig
from recframe.data.filters import apply_filters, dedup
from recframe_datasets.filters import kcore
from recframe.data.interactions import TEST, TRAIN, VALID, Interactions
from recframe.errors import ConfigError
from recframe.runner import load_data, make_split
from recframe_datasets.splitters import (
    cold_items,
    leave_last_k,
    leave_one_out,
    predefined,
    random_ratio,
    ratio_counts,
    temporal_ratio,
)


def keys(part: Interactions) -> np.ndarray:
    return np.sort(part.user * part.n_items + part.item)


def assert_partition(data: Interactions, split) -> None:
    """Train, valid and test are disjoint row sets whose union is the data (pairs are unique here)."""
    parts = np.concatenate([keys(split.train), keys(split.valid), keys(split.test)])
    assert len(parts) == len(data) and np.array_equal(np.sort(parts), keys(data))


@pytest.fixture(scope="module")
def ml1m(data_dir):
    return load_data(rconfig.compose(["data=ml-1m"]))


@pytest.fixture(scope="module")
def ml100k_data(data_dir):
    return load_data(rconfig.compose(["data=ml-100k"]))


def test_recbole_ml1m_filters_give_the_published_counts(ml1m):
    filtered = apply_filters(ml1m, [{"name": "min_rating", "threshold": 3}, {"name": "kcore", "k": 10}])
    assert filtered.counts() == {"users": 6033, "items": 3123, "interactions": 834_449}
    assert filtered.rating.min() >= 3
    assert np.bincount(filtered.user).min() >= 10 and np.bincount(filtered.item).min() >= 10
    # the order matters: 10-core first, then the rating threshold, leaves users below 10
    other = apply_filters(ml1m, [{"name": "kcore", "k": 10}, {"name": "min_rating", "threshold": 3}])
    assert len(other) != 834_449


def test_recbole_ml1m_protocol_config(ml1m):
    cfg = rconfig.compose(["data=ml-1m", "protocol=recbole_ml1m"])
    assert list(cfg.protocol.cutoffs) == [10, 20] and cfg.protocol.valid_metric == "ndcg@10"
    split = make_split(cfg, ml1m, seed=0)
    assert (split.n_users, split.n_items) == (6033, 3123)
    assert sum(split.counts().values()) == 834_449
    totals = (
        np.bincount(split.train.user, minlength=6033)
        + np.bincount(split.valid.user, minlength=6033)
        + np.bincount(split.test.user, minlength=6033)
    )
    cnt = ratio_counts(totals, [0.8, 0.1, 0.1])
    assert np.array_equal(np.bincount(split.test.user, minlength=6033), cnt[:, 2])
    assert np.array_equal(np.bincount(split.valid.user, minlength=6033), cnt[:, 1])


def test_kcore_reaches_a_fixed_point_and_dedup_keeps_file_order():
    # item 2 has 2 rows; user 2 has 1 row -> removing user 2 drops item 2 below 2 -> cascade
    data = Interactions(user=[0, 0, 1, 1, 2, 0], item=[0, 1, 0, 1, 2, 2], n_users=3, n_items=3)
    out = kcore(data, k=2)
    assert sorted(zip(out.user.tolist(), out.item.tolist())) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    dup = Interactions(user=[0, 0, 1, 0], item=[0, 0, 0, 0], n_users=2, n_items=1, timestamp=np.array([5, 5, 1, 9]))
    assert dedup(dup, keep="first").timestamp.tolist() == [5, 1]  # tie at 5: the first line wins
    assert dedup(dup, keep="last").timestamp.tolist() == [1, 9]


def test_random_ratio_follows_recbole_counts(ml100k_data):
    split = random_ratio(ml100k_data, seed=3)
    assert_partition(ml100k_data, split)
    totals = np.bincount(ml100k_data.user)
    cnt = ratio_counts(totals, [0.8, 0.1, 0.1])
    assert np.array_equal(np.bincount(split.test.user, minlength=943), cnt[:, 2])
    again = random_ratio(ml100k_data, seed=3)
    assert np.array_equal(keys(again.test), keys(split.test))
    assert not np.array_equal(keys(random_ratio(ml100k_data, seed=4).test), keys(split.test))


def test_ratio_counts_rule():
    cnt = ratio_counts(np.array([1, 2, 5, 10, 25]), [0.8, 0.1, 0.1])
    # 5 rows: floor(0.5)=0 valid/test, shares 0.5 in (0,1) -> one each taken from train
    assert cnt.tolist() == [[1, 0, 0], [1, 0, 1], [3, 1, 1], [8, 1, 1], [21, 2, 2]]


def test_temporal_ratio_per_user_and_global(ml100k_data):
    split = temporal_ratio(ml100k_data)
    assert_partition(ml100k_data, split)
    last_train = np.full(943, -1)
    np.maximum.at(last_train, split.train.user, split.train.timestamp)
    first_test = np.full(943, 2**62)
    np.minimum.at(first_test, split.test.user, split.test.timestamp)
    has_test = np.bincount(split.test.user, minlength=943) > 0
    assert (last_train[has_test] <= first_test[has_test]).all()
    glob = temporal_ratio(ml100k_data, group_by=None)
    assert len(glob.test) == 10_000 and len(glob.valid) == 10_000
    assert (
        glob.train.timestamp.max()
        <= glob.valid.timestamp.min()
        <= glob.valid.timestamp.max()
        <= glob.test.timestamp.min()
    )


def test_temporal_ratio_needs_timestamps():
    data = Interactions(user=[0, 0], item=[0, 1], n_users=1, n_items=2)
    with pytest.raises(ConfigError, match="temporal_ratio needs timestamps"):
        temporal_ratio(data)


def test_leave_one_out_by_time_holds_out_the_last_two(data_dir):
    data = load_data(rconfig.compose(["data=amazon-beauty"]))
    split = leave_one_out(data)
    assert_partition(data, split)
    assert len(split.test) == len(split.valid) == 22_363  # every S3-Rec user has >= 5 items
    n = np.bincount(data.user)
    assert np.array_equal(split.test.timestamp, n[split.test.user] - 1)  # last position of the line
    assert np.array_equal(split.valid.timestamp, n[split.valid.user] - 2)


def test_leave_last_k_edge_cases_and_random_order():
    data = Interactions(
        user=[0, 1, 1, 2, 2, 2, 2, 2],
        item=[0, 0, 1, 0, 1, 2, 3, 4],
        n_users=3,
        n_items=5,
        timestamp=np.array([1, 1, 2, 5, 1, 4, 2, 3]),
    )
    split = leave_last_k(data, k=2, valid_k=1)
    assert split.train.user[split.train.user == 0].size == 1  # a single row stays in train
    assert split.test.item[split.test.user == 1].tolist() == [1] and not (split.valid.user == 1).any()
    assert sorted(split.test.item[split.test.user == 2].tolist()) == [0, 2]  # times 5 and 4
    assert split.valid.item[split.valid.user == 2].tolist() == [4]  # time 3
    rnd = [leave_one_out(data, order="random", seed=s).test.item[-1] for s in range(20)]
    assert len(set(rnd)) > 1  # random order really shuffles
    with pytest.raises(ConfigError, match="order must be 'time' or 'random'"):
        leave_one_out(data, order="latest")


def test_predefined_keeps_the_shipped_split_and_carves_validation(data_dir):
    data = load_data(rconfig.compose(["data=gowalla-lightgcn"]))
    none = predefined(data)
    assert none.counts() == {"train": 810_128, "valid": 0, "test": 217_242}
    rnd = predefined(data, valid="random", valid_ratio=0.1, seed=1)
    assert len(rnd.test) == 217_242 and len(rnd.train) + len(rnd.valid) == 810_128
    train_deg = np.bincount(data.user[data.split_labels == TRAIN], minlength=data.n_users)
    cnt = ratio_counts(train_deg, [0.9, 0.1])
    assert np.array_equal(np.bincount(rnd.valid.user, minlength=data.n_users), cnt[:, 1])
    assert np.array_equal(keys(rnd.test), keys(none.test))
    with pytest.raises(ConfigError, match="valid must be none, random or last"):
        predefined(data, valid="tail")


def test_predefined_last_takes_latest_train_rows_and_respects_shipped_valid():
    data = Interactions(
        user=[0, 0, 0, 0, 0],
        item=[0, 1, 2, 3, 4],
        n_users=1,
        n_items=5,
        timestamp=np.array([1, 9, 3, 4, 2]),
        split_labels=np.array([0, 0, 0, 0, 2], np.int8),
    )
    split = predefined(data, valid="last", valid_ratio=0.3)  # 4 train rows: floor(1.2) = 1 valid
    assert split.valid.item.tolist() == [1] and split.test.item.tolist() == [4]
    shipped = Interactions(
        user=[0, 0, 0], item=[0, 1, 2], n_users=1, n_items=3, split_labels=np.array([TRAIN, VALID, TEST], np.int8)
    )
    assert predefined(shipped).counts() == {"train": 1, "valid": 1, "test": 1}
    with pytest.raises(ConfigError, match="already ships validation rows"):
        predefined(shipped, valid="random")
    with pytest.raises(ConfigError, match="needs a dataset with a shipped split"):
        predefined(Interactions(user=[0], item=[0], n_users=1, n_items=1))


def test_cold_items_never_leak_into_train(ml100k_data):
    split = cold_items(ml100k_data, seed=2)
    assert_partition(ml100k_data, split)
    train_items, valid_items, test_items = (set(np.unique(p.item)) for p in (split.train, split.valid, split.test))
    assert not train_items & valid_items and not train_items & test_items and not valid_items & test_items
    assert (len(train_items), len(valid_items), len(test_items)) == (1346, 168, 168)  # ratio_counts on 1,682
    assert split.n_items == 1682  # one id space: held-out items are rankable


def test_split_and_filters_are_declared_in_the_protocol_block():
    cfg = rconfig.compose(["protocol=recbole_ml1m"])
    from recframe.protocol import describe, protocol_block

    block = protocol_block(cfg)
    assert block["filters"] == [{"name": "min_rating", "threshold": 3}, {"name": "kcore", "k": 10}]
    lines = dict(describe(block))
    assert lines["filters"] == "min_rating(threshold=3), kcore(k=10)"
    assert lines["split"].startswith("random_ratio ratios=[0.8, 0.1, 0.1], group_by=user")


def test_recbole_protocol_end_to_end_records_filters_and_counts(data_dir, tmp_path):
    import recframe

    results = recframe.run(["data=ml-1m", "protocol=recbole_ml1m", "model=pop", "logger=none"], run_dir=tmp_path)
    assert results["data"]["filtered"] == {"users": 6033, "items": 3123, "interactions": 834_449}
    assert results["protocol"]["filters"] == [{"name": "min_rating", "threshold": 3}, {"name": "kcore", "k": 10}]
    assert results["protocol"]["split"]["name"] == "random_ratio"
    assert results["data"]["train"] + results["data"]["valid"] + results["data"]["test"] == 834_449
