"""Full ranking of inner-product models from a bfloat16 product and a proven error bound.

The oracle is numpy in float64: scores ``P @ Q.T``, seen items at ``-inf``, ordered by score then
item id. The kernel must return exactly its top ``K`` on real interaction patterns (ML-100K), with
exact and near ties, at any scale and width, and rows shorter than ``K``.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from recframe import kernels
from recframe.evaluation.factor_ranking import bf16_error_bound, top_k_by_factors
from recframe.evaluation.ranking import RankingEvaluator, RankingTarget
from recframe.models import DatasetInfo
from recframe_cf.bpr import BPRMF
from recframe_metrics.ranking import MRR, NDCG, HitRate, Precision, Recall

from .conftest import dataset_dir


@pytest.fixture(autouse=True)
def _kernels_on(monkeypatch):
    monkeypatch.setenv("RECFRAME_KERNELS", "1")
    assert kernels.available(), "numba is part of the dev install (recframe[fast])"


@pytest.fixture(scope="module")
def ml100k_parts() -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """(seen, relevant): ML-100K's interactions split 80/20 at random within each user."""
    raw = np.loadtxt(dataset_dir("ml-100k") / "u.data", dtype=np.int64)
    users, items = raw[:, 0] - 1, raw[:, 1] - 1
    held_out = np.random.default_rng(0).random(len(users)) < 0.2
    shape = (users.max() + 1, items.max() + 1)

    def csr(mask):
        return sp.csr_matrix((np.ones(mask.sum(), dtype=np.float32), (users[mask], items[mask])), shape=shape)

    return csr(~held_out), csr(held_out)


def oracle_top(P: np.ndarray, Q: np.ndarray, users: np.ndarray, seen: sp.csr_matrix, k: int) -> np.ndarray:
    """``int64[B, k]``: exact float64 ranking, equal scores by item id, ``-1`` past the unseen items."""
    scores = P.astype(np.float64) @ Q.astype(np.float64).T
    scores[seen[users].toarray() > 0] = -np.inf
    out = np.full((len(users), k), -1, dtype=np.int64)
    for b, row in enumerate(scores):
        order = np.lexsort((np.arange(len(row)), -row))[:k]
        order = order[np.isfinite(row[order])]
        out[b, : len(order)] = order
    return out


def factors(n_users: int, n_items: int, d: int, scale: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """User and item factors with a shared popularity direction, as trained models have."""
    g = torch.Generator().manual_seed(seed)
    pop = torch.randn(d, generator=g)
    P = (torch.randn(n_users, d, generator=g) + 0.5 * pop) * scale
    Q = (torch.randn(n_items, d, generator=g) + torch.rand(n_items, 1, generator=g) * pop) * scale
    return P, Q


@pytest.mark.parametrize("d,scale,k", [(64, 1.0, 10), (7, 30.0, 20), (256, 0.05, 5)])
def test_top_k_is_the_exact_float64_ranking(ml100k_parts, d, scale, k):
    seen, relevant = ml100k_parts
    P, Q = factors(seen.shape[0], seen.shape[1], d, scale, seed=d)
    users = np.arange(seen.shape[0])
    top, hits = top_k_by_factors(P, Q, users, seen, relevant, k)
    expected = oracle_top(P.numpy(), Q.numpy(), users, seen, k)
    np.testing.assert_array_equal(top.numpy(), expected)
    truth = np.array([[i >= 0 and relevant[u, i] > 0 for i in row] for u, row in zip(users, expected)])
    np.testing.assert_array_equal(hits.numpy(), truth)
    assert truth.any()  # the check has hits to compare


def test_exact_and_near_ties_are_ranked_exactly(ml100k_parts):
    """Items whose scores tie exactly (duplicated rows) or differ far below bfloat16's resolution."""
    seen, relevant = ml100k_parts
    P, Q = factors(seen.shape[0], seen.shape[1], 32, 1.0, seed=3)
    Q[1::3] = Q[0:-1:3][: len(Q[1::3])]  # exact duplicates of the previous item
    Q[2::3, 0] = Q[1::3, 0][: len(Q[2::3])] + 1e-6  # a hair above the duplicates
    Q[2::3, 1:] = Q[1::3, 1:][: len(Q[2::3])]
    users = np.arange(0, seen.shape[0], 3)
    P = P[users]  # row b is user users[b]
    top, _ = top_k_by_factors(P, Q, users, seen, relevant, 10)
    np.testing.assert_array_equal(top.numpy(), oracle_top(P.numpy(), Q.numpy(), users, seen, 10))


@pytest.mark.parametrize("d", [1, 16, 64, 300])
def test_the_bfloat16_error_bound_holds(d):
    g = torch.Generator().manual_seed(d)
    P = torch.randn(300, d, generator=g) * torch.rand(300, 1, generator=g) * 10
    Q = torch.randn(500, d, generator=g).pow(3)  # heavy tails: a few large coordinates
    approx = (P.bfloat16() @ Q.bfloat16().T).double()
    exact = P.double() @ Q.double().T
    ratio = (approx - exact).abs() / bf16_error_bound(P, Q).double().unsqueeze(1)
    assert ratio.max() <= 1.0
    assert ratio.max() > 1e-3  # the bound is not so loose that pruning would keep everything


def test_rows_shorter_than_k_end_with_minus_one():
    seen = sp.csr_matrix(np.array([[1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0], [0] * 12], dtype=np.float32))
    relevant = sp.csr_matrix(np.array([[0] * 9 + [1, 0, 0], [1] + [0] * 11], dtype=np.float32))
    P, Q = factors(2, 12, 4, 1.0, seed=0)
    top, hits = top_k_by_factors(P, Q, np.array([0, 1]), seen, relevant, 6)
    expected = oracle_top(P.numpy(), Q.numpy(), np.array([0, 1]), seen, 6)
    np.testing.assert_array_equal(top.numpy(), expected)
    assert (top[0, 4:] == -1).all() and not hits[0, 4:].any() and (top[1] >= 0).all()
    assert hits[0].sum() == 1 and hits[1].sum() == int((expected[1] == 0).any())


def test_non_finite_factors_or_bounds_are_left_to_the_float32_path(ml100k_parts, monkeypatch):
    from recframe.evaluation import factor_ranking

    seen, relevant = ml100k_parts
    P, Q = factors(seen.shape[0], seen.shape[1], 8, 1.0, seed=1)
    assert top_k_by_factors(P[:10], Q, np.arange(10), seen, relevant, 10) is not None
    P[3, 2] = float("nan")
    assert top_k_by_factors(P[:10], Q, np.arange(10), seen, relevant, 10) is None
    P[3, 2] = 0.0
    bound = factor_ranking.bf16_error_bound  # a bound that overflowed (norms beyond float32)
    monkeypatch.setattr(
        factor_ranking,
        "bf16_error_bound",
        lambda p, q, **kw: bound(p, q, **kw).index_fill(0, torch.tensor([4]), torch.inf),
    )
    assert top_k_by_factors(P[:10], Q, np.arange(10), seen, relevant, 10) is None


def test_evaluator_gives_the_float32_paths_metrics(ml100k_parts, monkeypatch):
    """A BPR-MF on ML-100K: same metrics with and without the kernel, same lists up to float32 ties."""
    seen, relevant = ml100k_parts
    torch.manual_seed(0)
    model = BPRMF(DatasetInfo(seen.shape[0], seen.shape[1], None, np.zeros(seen.shape[1])), embedding_dim=64).eval()
    metrics = {
        f"{name}@{k}": cls(k)
        for name, cls in (("ndcg", NDCG), ("hr", HitRate), ("recall", Recall), ("precision", Precision), ("mrr", MRR))
        for k in (5, 10, 20)
    }
    evaluator = RankingEvaluator(metrics, batch_users=256)
    target = RankingTarget(relevant, seen)
    assert evaluator.top_by_factors(model, torch.as_tensor(target.users[:4]), target.users[:4], target) is not None
    fast, fast_lists = evaluator.evaluate(model, target, keep_lists=True)
    monkeypatch.setenv("RECFRAME_KERNELS", "0")
    assert evaluator.top_by_factors(model, torch.as_tensor(target.users[:4]), target.users[:4], target) is None
    slow, slow_lists = evaluator.evaluate(model, target, keep_lists=True)
    assert fast.keys() == slow.keys() and all(abs(fast[k] - slow[k]) < 1e-9 for k in fast), (fast, slow)
    same_rows = (fast_lists["topk"] == slow_lists["topk"]).all(axis=1)
    assert same_rows.mean() > 0.99


def test_rows_split_over_threads_give_the_same_lists(ml100k_parts):
    """With torch using two threads the rows run in two blocks on a thread pool; same output."""
    seen, relevant = ml100k_parts
    P, Q = factors(seen.shape[0], seen.shape[1], 16, 1.0, seed=5)
    users = np.arange(seen.shape[0])
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = top_k_by_factors(P, Q, users, seen, relevant, 10)
        torch.set_num_threads(2)
        two = top_k_by_factors(P, Q, users, seen, relevant, 10)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one[0], two[0]) and torch.equal(one[1], two[1])


def test_each_evaluation_pass_reads_the_current_item_factors(ml100k_parts):
    """The item side is computed once per pass; a weight change between passes is seen."""
    seen, relevant = ml100k_parts
    torch.manual_seed(1)
    model = BPRMF(DatasetInfo(seen.shape[0], seen.shape[1], None, np.zeros(seen.shape[1])), embedding_dim=16).eval()
    evaluator, target = RankingEvaluator({"ndcg@10": NDCG(10)}, batch_users=200), RankingTarget(relevant, seen)
    before = evaluator.evaluate(model, target, keep_lists=True)[1]["topk"]
    with torch.no_grad():
        model.item_embedding.weight.mul_(-1.0)  # in place, same tensor: every ranking reverses
    after = evaluator.evaluate(model, target, keep_lists=True)[1]["topk"]
    fresh = RankingEvaluator({"ndcg@10": NDCG(10)}, batch_users=200).evaluate(model, target, keep_lists=True)[1]
    np.testing.assert_array_equal(after, fresh["topk"])
    assert (after != before).any(axis=1).mean() > 0.9
