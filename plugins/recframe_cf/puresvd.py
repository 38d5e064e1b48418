"""PureSVD: a truncated SVD of the interaction matrix, missing entries read as zeros.

P. Cremonesi, Y. Koren, R. Turrin. "Performance of Recommender Algorithms on Top-N Recommendation
Tasks." RecSys 2010.

``X ~ U_f S_f V_f^T`` with the ``num_factors`` largest singular triplets of the binary
``X: [n_users, n_items]`` (scipy's sparse ARPACK ``svds``, start vector from the model seed). A
user's scores are ``(U_f S_f)[u] @ V_f^T``, the row of the rank-``f`` reconstruction, which equals
``x_u V_f V_f^T``: the user's history projected on the top item factors.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg
import torch
from torch import Tensor

from recframe.api import ClosedFormRecommender, DatasetInfo, Interactions
from recframe_cf.itemknn import sparse_storage


class PureSVD(ClosedFormRecommender):
    """User factors ``U S: float[n_users, f]``, item factors ``V: float[n_items, f]``; scores ``U S V^T``."""

    scores_unseen_items = True  # an item without training interactions has a zero row of V: score 0

    def __init__(self, info: DatasetInfo, num_factors: int = 50) -> None:
        super().__init__(info)
        limit = min(info.n_users, info.n_items) - 1
        if not 1 <= int(num_factors) <= limit:
            raise ValueError(f"num_factors must be in [1, {limit}] (min(n_users, n_items) - 1), got {num_factors}")
        self.num_factors = int(num_factors)
        self.user_factors: np.ndarray | None = None
        self.item_factors: np.ndarray | None = None

    def fit(self, train: Interactions) -> None:
        x = sp.csr_matrix(train.to_csr(), dtype=np.float64)
        x.data[:] = 1.0
        rng = np.random.default_rng(torch.initial_seed() % 2**32)
        v0 = rng.uniform(-1.0, 1.0, min(x.shape))
        u, s, vt = scipy.sparse.linalg.svds(x, k=self.num_factors, v0=v0)
        order = np.argsort(-s)  # svds returns ascending singular values
        self.user_factors = np.ascontiguousarray((u[:, order] * s[order]).astype(np.float32))
        self.item_factors = np.ascontiguousarray(vt[order].T.astype(np.float32))

    def storage(self) -> tuple[int, int]:
        """Stored values and bytes of the two factor tables."""
        return sparse_storage([self.user_factors, self.item_factors])

    def score_factors(self, users: Tensor) -> tuple[Tensor, Tensor]:
        """``(U S)[users]: float[B, f]`` and ``V: float[n_items, f]``: the scores are their inner products."""
        return (torch.from_numpy(self.user_factors[users.cpu().numpy()]), torch.from_numpy(self.item_factors))

    def score_all(self, users: Tensor) -> Tensor:
        """``long[B] -> float[B, n_items]``: ``(U S)[users] @ V^T``."""
        p, q = self.score_factors(users)
        return p @ q.T
