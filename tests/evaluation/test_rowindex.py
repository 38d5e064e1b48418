"""Flat positions of CSR rows: sliced from the precomputed run or computed for any other batch."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recframe.evaluation.ranking import RankingEvaluator, RankingTarget
from recframe.evaluation.rowindex import FlatRows, flat_positions
from recframe_metrics.ranking import MRR, NDCG, HitRate

from .helpers import FixedScores, random_case


def _dense_positions(dense: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return np.flatnonzero(dense[rows].reshape(-1))


def test_runs_and_other_batches_give_the_dense_positions():
    rng = np.random.default_rng(0)
    dense = rng.random((30, 17)) < 0.3
    dense[[3, 11]] = False  # empty rows
    csr = sp.csr_matrix(dense.astype(np.float32))
    users = np.flatnonzero(dense.any(axis=1))
    rows = FlatRows(csr, users)
    for a, b in [(0, 5), (4, 9), (0, len(users)), (len(users) - 1, len(users))]:
        assert rows.run_start(users[a:b]) == a
        assert np.array_equal(rows.block(users[a:b]), _dense_positions(dense, users[a:b]))
    for batch in (users[::2], users[::-1], np.array([users[5], users[2]]), np.array([3, 11])):
        assert rows.run_start(batch) is None
        assert np.array_equal(rows.block(batch), _dense_positions(dense, batch))
    assert np.array_equal(flat_positions(csr, users[:4]), _dense_positions(dense, users[:4]))


def test_evaluation_does_not_depend_on_how_users_are_batched():
    scores, relevant, seen = random_case(3)
    target = RankingTarget(relevant, seen)
    ev = RankingEvaluator({"hr@5": HitRate(5), "ndcg@5": NDCG(5), "mrr@10": MRR(10)}, batch_users=7)
    whole = ev.evaluate(FixedScores(scores), target)
    ev.reset()
    model = FixedScores(scores)
    for part in (target.users[1::2], target.users[0::2]):  # not runs: computed from the CSR rows
        ev.update(model, part, target)
    strided = ev.compute()
    assert strided.keys() == whole[0].keys()
    for key, value in whole[0].items():
        assert abs(strided[key] - value) < 1e-12, key
