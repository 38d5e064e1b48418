"""Paired statistics of recframe compare, and churn, on hand-computed toys."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from recframe.compare import compare, paired_stats
from recframe.evaluation.stability import aggregate, churn, jaccard


def test_paired_stats_toy():
    a = np.array([0.0, 0.0, 5.0, 0.0])
    b = np.array([1.0, 2.0, 2.0, 4.0])  # differences 1, 2, -3, 4
    s = paired_stats(a, b)
    sd = statistics.stdev([1, 2, -3, 4])
    assert s["diff"] == pytest.approx(1.0)
    assert s["cohen_d"] == pytest.approx(1.0 / sd)
    assert s["t"] == pytest.approx(1.0 / (sd / math.sqrt(4)))
    assert s["rank_biserial"] == pytest.approx((1 + 2 + 4 - 3) / 10)  # ranks of |d|: 1, 2, 3, 4
    assert s["w"] == pytest.approx(3.0)  # scipy reports min(W+, W-)
    assert 0 < s["w_p"] <= 1 and 0 < s["t_p"] <= 1


def test_identical_runs_show_no_difference():
    x = np.random.default_rng(0).random(30)
    s = paired_stats(x, x.copy())
    assert s["diff"] == 0 and s["rank_biserial"] == 0 and s["w_p"] == 1.0 and s["t_p"] == 1.0


def test_compare_pairs_common_users_only(tmp_path):
    for name, users, values in (("a", [0, 1, 2, 5], [0.1, 0.2, 0.3, 0.9]), ("b", [1, 2, 3, 5], [0.4, 0.3, 0.0, 1.0])):
        (tmp_path / name).mkdir()
        np.savez(tmp_path / name / "per_user.npz", **{"test/users": np.array(users), "test/ndcg@10": np.array(values)})
    s = compare(tmp_path / "a", tmp_path / "b")["ndcg@10"]
    assert s["n"] == 3 and s["mean_a"] == pytest.approx((0.2 + 0.3 + 0.9) / 3)
    assert s["mean_b"] == pytest.approx((0.4 + 0.3 + 1.0) / 3)


def test_jaccard_and_churn_toy():
    a = np.array([[1, 2, 3], [4, 5, -1], [7, 8, 9]])
    b = np.array([[3, 2, 1], [5, 6, -1], [1, 2, 3]])
    assert jaccard(a, b).tolist() == pytest.approx([1.0, 1 / 3, 0.0])
    c = churn({"users": np.array([0, 1, 2]), "items": a}, {"users": np.array([1, 2, 9]), "items": b[:3]})
    # common users 1, 2: rows a[1] vs b[0], a[2] vs b[1]
    assert c["users"] == 2 and c["overlap"] == pytest.approx((0 / 5 + 0 / 6) / 2)


def test_aggregate_mean_and_sample_std():
    runs = [{"metrics": {"test/ndcg@10": v, "test/hr@10": 1.0}} for v in (0.1, 0.2, 0.4)]
    agg = aggregate(runs)
    assert agg["test/ndcg@10"]["mean"] == pytest.approx(statistics.mean([0.1, 0.2, 0.4]))
    assert agg["test/ndcg@10"]["std"] == pytest.approx(statistics.stdev([0.1, 0.2, 0.4]))
    assert agg["test/hr@10"]["std"] == 0.0 and agg["test/hr@10"]["n"] == 3


def test_churn_compares_the_common_prefix_of_lists_of_different_length():
    a = {"users": np.array([0]), "items": np.array([[1, 2, 3, 4]])}
    b = {"users": np.array([0]), "items": np.array([[2, 1]])}
    assert churn(a, b) == {"overlap": 1.0, "churn": 0.0, "users": 1, "k": 2}
