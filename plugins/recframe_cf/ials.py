"""Implicit alternating least squares (iALS).

Y. Hu, Y. Koren, C. Volinsky. "Collaborative Filtering for Implicit Feedback Datasets." ICDM 2008.

Preference ``p_ui = 1`` for observed pairs (0 otherwise) with confidence ``c_ui = 1 + alpha``;
minimise ``sum c_ui (p_ui - x_u^T y_i)^2 + reg (|x|^2 + |y|^2)`` by alternating exact solves:
``x_u = (Y^T Y + Y^T (C_u - I) Y + reg I)^-1 Y^T C_u p_u``. Like the `implicit` library, each
half-step runs a few conjugate-gradient steps warm-started from the current factors (Takacs, Pilaszy,
Tikk, RecSys 2011). The half-steps run in the core (``cg_half_step``): a compiled per-row CG kernel
on ``torch.get_num_threads()`` threads with ``recframe[fast]``, a batched torch CG otherwise.

Initial factors (``init``): ``normal`` draws ``N(0, init_std^2)`` from torch's generator (the
default); ``uniform`` draws ``U(0, init_std)`` exactly as the `implicit` library (0.7) does,
``numpy.random.default_rng(seed).random(dtype=float32)``, users then items, so with the same seed
both start from the same factors and, the solver being the same, end at the same factors up to float
rounding. The two starts are not equivalent after a few iterations: see docs/performance.md.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from recframe.api import ClosedFormRecommender, DatasetInfo, Interactions, cg_half_step, least_squares_fold_in


#: ``init`` values: ``N(0, init_std^2)`` from torch's generator, or implicit's ``U(0, init_std)`` from numpy's.
INITS = ("normal", "uniform")


def initial_factors(init: str, n_users: int, n_items: int, dim: int, scale: float, seed: int) -> tuple[Tensor, Tensor]:
    """``(float[n_users, dim], float[n_items, dim])`` starting factors (see the module docstring)."""
    if init == "uniform":
        rng = np.random.default_rng(seed)
        users = rng.random((n_users, dim), dtype=np.float32) * np.float32(scale)
        items = rng.random((n_items, dim), dtype=np.float32) * np.float32(scale)
        return torch.from_numpy(users), torch.from_numpy(items)
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n_users, dim, generator=gen) * scale, torch.randn(n_items, dim, generator=gen) * scale


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
        init: str = "normal",
    ) -> None:
        super().__init__(info)
        if int(embedding_dim) < 1 or int(iterations) < 1 or float(alpha) < 0 or float(reg_weight) < 0:
            raise ValueError("need embedding_dim >= 1, iterations >= 1, alpha >= 0, reg_weight >= 0")
        if init not in INITS:
            raise ValueError(f"init must be 'normal' (N(0, init_std^2)) or 'uniform' (U(0, init_std)), got {init!r}")
        self.iterations, self.alpha, self.reg = int(iterations), float(alpha), float(reg_weight)
        self.cg_steps = int(cg_steps)
        users, items = initial_factors(init, self.n_users, self.n_items, int(embedding_dim), float(init_std), int(seed))
        self.register_buffer("user_factors", users)
        self.register_buffer("item_factors", items)

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
