"""Tie rules, sampled ranking and candidate generation."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from recframe.errors import ConfigError
from recframe.evaluation.ranking import RankingEvaluator, RankingTarget
from recframe.evaluation.sampled import SampledRankingEvaluator, SampledTarget, sampled_evaluation
from recframe.evaluation.ties import check_ties, dedup_mask, ordered_int
from recframe_metrics.ranking import MRR, NDCG, HitRate

from .helpers import FixedScores


def test_ordered_int_preserves_order():
    x = torch.tensor([-torch.inf, -3.5, -1e-30, -0.0, 0.0, 1e-30, 2.0, 7e10, torch.inf])
    keys = ordered_int(x)
    assert (keys[1:] >= keys[:-1]).all()
    assert keys[3] == keys[4]  # -0.0 == 0.0
    assert (keys[1:3] < keys[2:4]).all() and (keys[5:] > keys[4:-1]).all()
    v = torch.randn(1000) * 10
    assert torch.equal(torch.argsort(ordered_int(v), stable=True), torch.argsort(v, stable=True))


def test_dedup_mask_keeps_first_occurrence():
    items = torch.tensor([[5, 3, 5, -1, -1, 3, 7]])
    assert dedup_mask(items).tolist() == [[False, False, True, False, False, True, False]]


def test_unknown_tie_rule_is_one_line_error():
    with pytest.raises(ConfigError, match="protocol.ties must be one of"):
        check_ties("random")


def rank_of_held_out(ties, candidates, scores):
    """MRR@n of one user whose held-out item 0 is ranked among ``candidates``."""
    relevant = sp.csr_matrix(np.eye(1, len(scores), 0, dtype=np.float32))
    ev = SampledRankingEvaluator({"mrr@10": MRR(10)}, ties=ties)
    value = ev.evaluate(FixedScores(scores[None]), SampledTarget(relevant, np.array([candidates])))[0]["mrr@10"]
    return round(1 / value) if value else None


def test_tie_rules_on_a_toy():
    # held-out item 0 scores 1; items 1, 2 tie with it; item 3 is above; item 2 is listed twice
    scores = np.array([1.0, 1.0, 1.0, 5.0, 0.0], dtype=np.float32)
    cands = [1, 2, 2, 3, 4]
    assert rank_of_held_out("optimistic", cands, scores) == 2
    assert rank_of_held_out("pessimistic", cands, scores) == 5  # 3, 1, 2, 2 above it
    assert rank_of_held_out("ncf", cands, scores) == 4  # 3, 1, 2 above it: the duplicate counts once
    # a candidate equal to the held-out item collapses into it under ncf, ties with it otherwise
    assert rank_of_held_out("ncf", [0, 4], scores) == 1
    assert rank_of_held_out("pessimistic", [0, 4], scores) == 2


def test_full_ranking_tie_rules():
    scores = np.zeros((1, 6), dtype=np.float32)  # everything ties
    relevant = sp.csr_matrix(np.array([[0, 0, 1, 0, 0, 0]], dtype=np.float32))
    seen = sp.csr_matrix(np.array([[1, 0, 0, 0, 0, 0]], dtype=np.float32))
    mrr = {
        t: RankingEvaluator({"mrr@6": MRR(6)}, ties=t).evaluate(FixedScores(scores), RankingTarget(relevant, seen))[0][
            "mrr@6"
        ]
        for t in ("pessimistic", "optimistic")
    }
    assert mrr == {"pessimistic": pytest.approx(1 / 5), "optimistic": 1.0}  # 5 unseen items


def test_sampled_equals_full_ranking_over_the_same_items():
    # ranking all unseen items as candidates is full ranking with seen items masked
    rng = np.random.default_rng(3)
    n_users, n_items = 20, 15
    scores = rng.random((n_users, n_items)).astype(np.float32)
    seen = rng.random((n_users, n_items)) < 0.3
    relevant = (rng.random((n_users, n_items)) < 0.2) & ~seen
    cands = np.where(~seen & ~relevant, np.arange(n_items), -1)
    metrics = lambda: {"hr@5": HitRate(5), "ndcg@5": NDCG(5), "mrr@5": MRR(5)}  # noqa: E731
    full = RankingEvaluator(metrics(), ties="pessimistic").evaluate(
        FixedScores(scores), RankingTarget(sp.csr_matrix(relevant), sp.csr_matrix(seen))
    )[0]
    sampled = SampledRankingEvaluator(metrics(), ties="pessimistic", batch_users=7).evaluate(
        FixedScores(scores), SampledTarget(sp.csr_matrix(relevant), cands)
    )[0]
    for key in full:
        assert sampled[key] == pytest.approx(full[key], abs=1e-12), key


def generate_candidates(positives: sp.csr_matrix, n: int, seed: int):
    """The generator the sampled protocol uses, on a user x item matrix of positives."""
    from recframe.data.candidates import build_candidates
    from recframe.data.interactions import Interactions

    coo = positives.tocoo()
    data = Interactions(user=coo.row, item=coo.col, n_users=positives.shape[0], n_items=positives.shape[1])
    return build_candidates(data, n, seed)


def test_generated_candidates_exclude_positives_and_are_seeded():
    rng = np.random.default_rng(0)
    dense = rng.random((50, 40)) < 0.3
    dense[0] = True  # a user with no negative at all
    positives = sp.csr_matrix(dense)
    a = generate_candidates(positives, 10, seed=5)
    b = generate_candidates(positives, 10, seed=5)
    c = generate_candidates(positives, 10, seed=6)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert (a[0] == -1).all()
    for u in range(1, 50):
        row = a[u][a[u] >= 0]
        assert len(row) == min(10, (~dense[u]).sum()) and len(set(row)) == len(row)
        assert not dense[u, row].any()


def test_generated_candidates_are_uniform():
    positives = sp.csr_matrix((2000, 10), dtype=np.float32)
    counts = np.bincount(generate_candidates(positives, 3, seed=1).ravel(), minlength=10)
    assert counts.sum() == 6000 and np.abs(counts - 600).max() < 100  # 4+ standard deviations


def test_sampled_without_candidates_is_a_config_error(tmp_path):
    from recframe.data.interactions import Interactions
    from recframe.data.split import Split

    part = Interactions(user=np.array([0]), item=np.array([1]), n_users=1, n_items=3)
    split = Split(part, part, part)
    with pytest.raises(ConfigError, match="num_candidates is null"):
        sampled_evaluation({"ranking": "sampled", "num_candidates": None}, split, {"hr@1": HitRate(1)}, 8, 0)
    with pytest.raises(ConfigError, match="num_candidates must be >= 1"):
        sampled_evaluation({"ranking": "sampled", "num_candidates": 0}, split, {"hr@1": HitRate(1)}, 8, 0)
