"""Implicit alternating least squares (iALS).

Y. Hu, Y. Koren, C. Volinsky. "Collaborative Filtering for Implicit Feedback Datasets." ICDM 2008.

Preference ``p_ui = 1`` for observed pairs (0 otherwise) with confidence ``c_ui = 1 + alpha``;
minimise ``sum c_ui (p_ui - x_u^T y_i)^2 + reg (|x|^2 + |y|^2)`` by alternating exact solves:
``x_u = (Y^T Y + Y^T (C_u - I) Y + reg I)^-1 Y^T C_u p_u``. Like the `implicit` library, each
half-step runs a few conjugate-gradient steps warm-started from the current factors (Takacs, Pilaszy,
Tikk, RecSys 2011). The half-steps run in the core (``cg_half_step``): a compiled per-row CG kernel
on ``torch.get_num_threads()`` threads with ``recframe[fast]``, a batched torch CG otherwise.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from recframe.api import ClosedFormRecommender, DatasetInfo, Interactions, cg_half_step, least_squares_fold_in


class IALS(ClosedFormRecommender):
    """User and item factors of size ``embedding_dim`` fitted by ``iterations`` ALS sweeps."""

    scores_unseen_items = True  # an item without training interactions scores 0 by construction

    def __init__(
        self,
        info: DatasetInfo,
        embedding_dim: int = 64,
        iterations: int = 15,
        alpha: float = 10.0,
        reg_weight: float = 100.0,
        cg_steps: int = 3,
        init_std: float = 0.01,
        seed: int = 0,
    ) -> None:
        super().__init__(info)
        if int(embedding_dim) < 1 or int(iterations) < 1 or float(alpha) < 0 or float(reg_weight) < 0:
            raise ValueError("need embedding_dim >= 1, iterations >= 1, alpha >= 0, reg_weight >= 0")
        self.iterations, self.alpha, self.reg = int(iterations), float(alpha), float(reg_weight)
        self.cg_steps = int(cg_steps)
        gen = torch.Generator().manual_seed(int(seed))
        self.register_buffer("user_factors", torch.randn(self.n_users, int(embedding_dim), generator=gen) * init_std)
        self.register_buffer("item_factors", torch.randn(self.n_items, int(embedding_dim), generator=gen) * init_std)

    def fit(self, train: Interactions) -> None:
        by_user = train.to_csr()
        by_item = by_user.T.tocsr()
        sides = [(m.indptr.astype(np.int64), m.indices) for m in (by_user, by_item)]
        u = np.ascontiguousarray(self.user_factors.numpy(), dtype=np.float32).copy()
        v = np.ascontiguousarray(self.item_factors.numpy(), dtype=np.float32).copy()
        for _ in range(self.iterations):
            cg_half_step(*sides[0], u, v, self.alpha, self.reg, self.cg_steps)
            cg_half_step(*sides[1], v, u, self.alpha, self.reg, self.cg_steps)
        self.user_factors, self.item_factors = torch.from_numpy(u), torch.from_numpy(v)

    def score_all(self, users: Tensor) -> Tensor:
        """``long[B] -> float[B, n_items]``: ``X_u Y^T``."""
        return self.user_factors[users] @ self.item_factors.T

    def score_factors(self, users: Tensor) -> tuple[Tensor, Tensor]:
        """``(X_u[B, d], Y[n_items, d])`` with ``score_all(users) = X_u Y^T``."""
        return self.user_factors[users], self.item_factors

    def fold_in(self, items: Tensor) -> Tensor:
        """``long[n] -> float[n_items]``: ``Y x`` for the exact user step of training (this model's
        ``alpha`` and ``reg_weight``) on a new user whose history is ``items``."""
        return least_squares_fold_in(self.item_factors, items, self.alpha, self.reg)
