"""NCF ML-1M's ``valid: random`` rule: one uniformly drawn training rating per user held out, as the
study of Ferrari Dacrema et al. (RecSys 2019) carves its validation item from NCF's training file."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from recframe_datasets.ncf import NCFLeaveOneOut, ncf_loo, random_one_per_user


def ncf_dir() -> Path:
    path = Path(os.environ.get("RECFRAME_DATA_DIR", "")) / "ncf-ml-1m"
    assert (path / "ml-1m.train.rating").is_file(), f"{path}: NCF ML-1M files missing (set RECFRAME_DATA_DIR)"
    return path


def test_one_row_per_user_drawn_uniformly():
    users = np.array([0, 0, 0, 0, 1, 2, 2, 5, 5, 5])
    counts = np.zeros(len(users))
    draws = 4000
    for seed in range(draws):
        rows = random_one_per_user(users, seed)
        assert sorted(users[rows].tolist()) == [0, 1, 2, 5]
        counts[rows] += 1
    share = counts / draws
    expected = 1.0 / np.bincount(users)[users]
    assert np.allclose(share, expected, atol=0.03)  # 4,000 draws: a few standard errors at most


def test_random_rule_on_ncf_ml1m_holds_out_one_training_row_per_user():
    data = NCFLeaveOneOut(ncf_dir(), valid="random").load()
    split = ncf_loo(data)
    assert split.counts() == {"train": 994169 - 6040, "valid": 6040, "test": 6040}
    assert np.array_equal(np.sort(split.valid.user), np.arange(6040))
    again = ncf_loo(NCFLeaveOneOut(ncf_dir(), valid="random").load())
    assert np.array_equal(split.valid.item, again.valid.item)  # a fixed draw
    latest = ncf_loo(NCFLeaveOneOut(ncf_dir(), valid="latest").load())
    by_user = np.argsort(split.valid.user)
    same = split.valid.item[by_user] == latest.valid.item[np.argsort(latest.valid.user)]
    assert same.mean() < 0.05  # not the latest rating (a user has 20 or more training ratings)
    assert not set(zip(split.valid.user.tolist(), split.valid.item.tolist(), strict=True)) & set(
        zip(split.train.user.tolist(), split.train.item.tolist(), strict=True)
    )
