"""Small building blocks for evaluation tests: a model with fixed scores and random targets."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from recframe.models import DatasetInfo, Recommender


class FixedScores(Recommender):
    """Returns rows of a given ``float[n_users, n_items]`` score matrix."""

    def __init__(self, scores) -> None:
        scores = torch.as_tensor(scores, dtype=torch.float32)
        super().__init__(DatasetInfo(scores.shape[0], scores.shape[1], None, None))
        self.register_buffer("table", scores)

    def score_all(self, users):
        return self.table[users].clone()


def random_case(seed: int, n_users: int = 40, n_items: int = 30, p_rel: float = 0.15, p_seen: float = 0.2):
    """(scores float[U, I] positive and tie-free, relevant csr, seen csr disjoint from relevant)."""
    rng = np.random.default_rng(seed)
    scores = rng.permutation(n_users * n_items).reshape(n_users, n_items).astype(np.float32) + 1.0
    seen = rng.random((n_users, n_items)) < p_seen
    relevant = (rng.random((n_users, n_items)) < p_rel) & ~seen
    relevant[rng.integers(0, n_users, 3)] = False  # some users without held-out items
    return scores, sp.csr_matrix(relevant.astype(np.float32)), sp.csr_matrix(seen.astype(np.float32))
