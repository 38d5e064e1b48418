"""Ranking metrics tested three ways: an independent oracle, their limits and hand-computed toys.

Also: batched evaluation equals one pass, and metric states merged from two halves equal one pass
(what DDP's sum reduction relies on).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torchmetrics.functional.retrieval as tmr

from recframe.evaluation.ranking import RankingEvaluator, RankingTarget
from recframe_metrics.ranking import MAP, MRR, NDCG, HitRate, Precision, Recall

from .helpers import FixedScores, random_case

CLASSES = {"hr": HitRate, "recall": Recall, "precision": Precision, "ndcg": NDCG, "mrr": MRR, "map": MAP}


def all_metrics(cutoffs=(1, 3, 10)):
    return {f"{n}@{k}": cls(k) for n, cls in CLASSES.items() for k in cutoffs}


def oracle(name, preds, target, k):
    """torchmetrics' functional retrieval metric for one user (MAP renormalised, see docs)."""
    if name == "hr":
        return float(tmr.retrieval_hit_rate(preds, target, top_k=k))
    if name == "recall":
        return float(tmr.retrieval_recall(preds, target, top_k=k))
    if name == "precision":
        return float(tmr.retrieval_precision(preds, target, top_k=k))
    if name == "ndcg":
        return float(tmr.retrieval_normalized_dcg(preds, target, top_k=k))
    if name == "mrr":
        return float(tmr.retrieval_reciprocal_rank(preds, target, top_k=k))
    # torchmetrics divides AP@k by the hits in the top k; recframe by min(R, k)
    hits = int(target[preds.topk(min(k, len(preds))).indices].sum())
    return float(tmr.retrieval_average_precision(preds, target, top_k=k)) * hits / min(int(target.sum()), k)


@pytest.mark.parametrize("seed", range(4))
def test_against_torchmetrics_retrieval(seed):
    scores, relevant, seen = random_case(seed)
    evaluator = RankingEvaluator(all_metrics(), batch_users=16)
    values, per_user = evaluator.evaluate(FixedScores(scores), RankingTarget(relevant, seen), keep_per_user=True)
    users = RankingTarget(relevant, seen).users
    rel, msk = relevant.toarray() > 0, seen.toarray() > 0
    for key in values:
        name, k = key.split("@")
        expected = []
        for u in users:
            keep = ~msk[u]
            expected.append(oracle(name, torch.tensor(scores[u, keep]), torch.tensor(rel[u, keep]), int(k)))
        np.testing.assert_allclose(per_user[key], expected, rtol=1e-6, atol=1e-7, err_msg=key)
        assert values[key] == pytest.approx(np.mean(expected), abs=1e-7)


def test_perfect_ranking_and_no_hit():
    # user 0 holds items 0, 1; user 1 holds item 2; scores put exactly them first / last
    relevant = sp.csr_matrix(np.array([[1, 1, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0]], dtype=np.float32))
    best = np.array([[6, 5, 1, 2, 3, 4], [1, 2, 6, 3, 4, 5]], dtype=np.float32)
    ev = RankingEvaluator(all_metrics((1, 2, 3)))
    perfect = ev.evaluate(FixedScores(best), RankingTarget(relevant, None))[0]
    for key in ("hr@1", "hr@3", "ndcg@1", "ndcg@2", "ndcg@3", "mrr@3", "map@2", "map@3", "recall@3"):
        assert perfect[key] == pytest.approx(1.0), key
    assert perfect["recall@1"] == pytest.approx((0.5 + 1.0) / 2)
    assert perfect["precision@2"] == pytest.approx((1.0 + 0.5) / 2)
    worst = ev.evaluate(FixedScores(-best), RankingTarget(relevant, None))[0]
    for key in ("hr@3", "ndcg@3", "mrr@3", "map@3", "recall@3", "precision@3"):
        assert worst[key] == 0.0, key


def test_cutoff_larger_than_item_count():
    scores, relevant, _ = random_case(7, n_users=10, n_items=6)
    ev = RankingEvaluator({**all_metrics((6, 50))})
    values = ev.evaluate(FixedScores(scores), RankingTarget(relevant, None))[0]
    for name in ("hr", "recall", "ndcg", "mrr", "map"):
        assert values[f"{name}@50"] == pytest.approx(values[f"{name}@6"]), name
    assert values["recall@50"] == pytest.approx(1.0)
    assert values["precision@50"] == pytest.approx(values["precision@6"] * 6 / 50)


def test_hand_computed_toy():
    # one user, relevant {a, c}, ranking a b c d: hits 1 0 1 0, R = 2
    hits = torch.tensor([[True, False, True, False]])
    n_rel = torch.tensor([2])
    ideal = 1 + 1 / math.log2(3)
    expected = {
        "hr": 1.0,
        "recall": 1.0,
        "precision": 0.5,
        "ndcg": (1 + 1 / 2) / ideal,
        "mrr": 1.0,
        "map": (1 / 1 + 2 / 3) / 2,
    }
    for name, cls in CLASSES.items():
        assert float(cls(4).user_values(hits, n_rel)[0]) == pytest.approx(expected[name]), name
    # at k = 2 only "a" is a hit; ideal DCG over min(R, k) = 2 positions
    assert float(NDCG(2).user_values(hits, n_rel)[0]) == pytest.approx(1 / ideal)
    assert float(MAP(2).user_values(hits, n_rel)[0]) == pytest.approx(0.5)
    assert float(Recall(2).user_values(hits, n_rel)[0]) == pytest.approx(0.5)


def test_cutoff_zero_is_rejected():
    with pytest.raises(ValueError, match="k must be >= 1"):
        NDCG(0)


@pytest.mark.parametrize("ties", ["torch.topk", "pessimistic"])
def test_batched_equals_one_pass(ties):
    scores, relevant, seen = random_case(11, n_users=57)
    target = RankingTarget(relevant, seen)
    results = [
        RankingEvaluator(all_metrics(), batch_users=b, ties=ties).evaluate(FixedScores(scores), target)[0]
        for b in (1, 5, 16, 1024)
    ]
    for other in results[1:]:
        for key, value in results[0].items():
            assert other[key] == pytest.approx(value, abs=1e-12), key


def test_merged_halves_equal_one_pass():
    scores, relevant, seen = random_case(12, n_users=50)
    target = RankingTarget(relevant, seen)
    model = FixedScores(scores)
    whole = RankingEvaluator(all_metrics())
    whole.update(model, target.users, target)
    halves = [RankingEvaluator(all_metrics()), RankingEvaluator(all_metrics())]
    mid = len(target.users) // 2
    halves[0].update(model, target.users[:mid], target)
    halves[1].update(model, target.users[mid:], target)
    for key, a, b, w in zip(whole.keys, halves[0].metrics.values(), halves[1].metrics.values(), whole.metrics.values()):
        a.merge_state(b)
        assert float(a.compute()) == pytest.approx(float(w.compute()), abs=1e-12), key


def test_memory_is_bounded_by_the_user_batch():
    scores, relevant, seen = random_case(13, n_users=50)
    sizes = []

    class Recording(FixedScores):
        def score_all(self, users):
            sizes.append(len(users))
            return super().score_all(users)

    RankingEvaluator(all_metrics(), batch_users=8).evaluate(Recording(scores), RankingTarget(relevant, seen))
    assert max(sizes) == 8 and sum(sizes) == len(RankingTarget(relevant, seen).users)
