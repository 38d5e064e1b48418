"""SLIM with an ElasticNet penalty: a sparse item-item linear model, one regression per item.

X. Ning, G. Karypis. "SLIM: Sparse Linear Methods for Top-N Recommender Systems." ICDM 2011.
Settings as in the SLIM ElasticNet baseline of Ferrari Dacrema et al., RecSys 2019 (which fits
scikit-learn's ``ElasticNet`` per item).

For each item ``j``, with ``X: [n_users, n_items]`` the binary interactions, the column
``w_j: float[n_items]`` minimises scikit-learn's ElasticNet objective

    ``1 / (2 n_users) ||X_j - X w_j||^2 + alpha l1_ratio ||w_j||_1 + alpha (1 - l1_ratio) / 2 ||w_j||^2``

subject to ``w_jj = 0`` (and ``w_j >= 0`` when ``positive_only``). Only the ``k`` largest
coefficients of each column are kept. A user's scores are ``x_u @ W``.

The solver here is cyclic coordinate descent on the Gram matrix ``G = X^T X`` (numba, compiled
once; ``recframe[fast]``): a coordinate step needs ``G[k, :]`` only, so the ``n_items`` regressions
share one ``float64[n_items, n_items]`` Gram matrix and run in parallel over item columns, ``block``
columns at a time (memory ``O(n_items^2)`` for ``G`` plus ``O(n_items * block)``). It stops a
column when the largest coefficient change of a sweep is at most ``tol`` times the largest
coefficient, or after ``max_iter`` sweeps (scikit-learn's first stopping test; it adds a duality-gap
check, so its coefficients can differ at the solver's tolerance).
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from recframe.api import ClosedFormRecommender, DatasetInfo, Interactions
from recframe_cf.itemknn import sparse_storage

#: the Gram matrix is dense ``float64[n_items, n_items]``; more items than this is a one-line error
MAX_ITEMS = 40_000


def _compile() -> Any:
    """The numba coordinate-descent kernel (compiled on first use, cached on disk)."""
    import numba

    @numba.njit(parallel=True, cache=True, fastmath=False)
    def solve_columns(
        gram: np.ndarray, columns: np.ndarray, l1: float, l2: float, positive: bool, max_iter: int, tol: float
    ) -> np.ndarray:
        n = gram.shape[0]
        out = np.zeros((len(columns), n))
        for c in numba.prange(len(columns)):
            j = columns[c]
            w = np.zeros(n)
            h = np.zeros(n)  # G @ w
            for _ in range(max_iter):
                max_change = 0.0
                max_w = 0.0
                for k in range(n):
                    if k == j:
                        continue
                    g_kk = gram[k, k]
                    if g_kk == 0.0:
                        continue
                    old = w[k]
                    r = gram[k, j] - h[k] + g_kk * old
                    if positive:
                        new = max(r - l1, 0.0) / (g_kk + l2)
                    elif r > l1:
                        new = (r - l1) / (g_kk + l2)
                    elif r < -l1:
                        new = (r + l1) / (g_kk + l2)
                    else:
                        new = 0.0
                    delta = new - old
                    if delta != 0.0:
                        w[k] = new
                        row = gram[k]
                        for m in range(n):
                            h[m] += delta * row[m]
                        if abs(delta) > max_change:
                            max_change = abs(delta)
                    if abs(new) > max_w:
                        max_w = abs(new)
                if max_w == 0.0 or max_change <= tol * max_w:
                    break
            out[c] = w
        return out

    return solve_columns


_KERNEL: list[Any] = []


def elasticnet_columns(
    gram: np.ndarray, columns: np.ndarray, l1: float, l2: float, positive: bool, max_iter: int, tol: float
) -> np.ndarray:
    """``float64[len(columns), n_items]``: the coefficient vector of each target column."""
    if not _KERNEL:
        _KERNEL.append(_compile())
    return _KERNEL[0](gram, columns.astype(np.int64), float(l1), float(l2), bool(positive), int(max_iter), float(tol))


class SLIM(ClosedFormRecommender):
    """Scores ``x_u @ W`` with ``W: float[n_items, n_items]`` sparse ElasticNet item weights, ``diag(W) = 0``."""

    scores_unseen_items = True  # an item without training interactions gets an all-zero column

    def __init__(
        self,
        info: DatasetInfo,
        k: int = 100,
        alpha: float = 1e-3,
        l1_ratio: float = 0.1,
        positive_only: bool = True,
        max_iter: int = 100,
        tol: float = 1e-4,
        block: int = 512,
    ) -> None:
        super().__init__(info)
        if int(k) < 1 or float(alpha) <= 0 or not 0.0 <= float(l1_ratio) <= 1.0:
            raise ValueError(
                f"need k >= 1, alpha > 0 and 0 <= l1_ratio <= 1, got k={k}, alpha={alpha}, l1_ratio={l1_ratio}"
            )
        if int(max_iter) < 1 or float(tol) <= 0 or int(block) < 1:
            raise ValueError(f"need max_iter >= 1, tol > 0 and block >= 1, got {max_iter}, {tol}, {block}")
        if importlib.util.find_spec("numba") is None:
            raise ValueError("model 'slim' needs numba for its coordinate-descent solver: pip install 'recframe[fast]'")
        if info.n_items > MAX_ITEMS:
            raise ValueError(
                f"model 'slim' keeps a dense {info.n_items} x {info.n_items} Gram matrix "
                f"({8 * info.n_items**2 / 2**30:.1f} GiB); it supports at most {MAX_ITEMS} items"
            )
        self.k, self.alpha, self.l1_ratio = int(k), float(alpha), float(l1_ratio)
        self.positive_only, self.max_iter = bool(positive_only), int(max_iter)
        self.tol, self.block = float(tol), int(block)
        self.weights: sp.csr_matrix | None = None
        self.history: sp.csr_matrix | None = None

    def fit(self, train: Interactions) -> None:
        x = train.to_csr()
        x.data[:] = 1.0
        self.history = x
        n_users, n = x.shape
        gram = (x.T @ x).toarray().astype(np.float64)
        l1 = n_users * self.alpha * self.l1_ratio
        l2 = n_users * self.alpha * (1.0 - self.l1_ratio)
        k = max(1, min(self.k, n - 1)) if n > 1 else 1
        rows, cols, vals = [], [], []
        for start in range(0, n, self.block):
            columns = np.arange(start, min(start + self.block, n))
            coef = elasticnet_columns(gram, columns, l1, l2, self.positive_only, self.max_iter, self.tol)  # b x n
            top = (
                np.argpartition(-np.abs(coef), k - 1, axis=1)[:, :k]
                if k < n
                else np.broadcast_to(np.arange(n), coef.shape)
            )
            top_vals = np.take_along_axis(coef, top, axis=1)
            keep = top_vals != 0.0
            rows.append(top[keep])  # the regressor item i ...
            cols.append(np.broadcast_to(columns[:, None], top.shape)[keep])  # ... of target column j
            vals.append(top_vals[keep])
        self.weights = sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n), dtype=np.float32
        )

    def storage(self) -> tuple[int, int]:
        """Stored values and bytes of the sparse item-item weights."""
        return sparse_storage([self.weights])

    def score_all(self, users: Tensor) -> Tensor:
        """``long[B] -> float[B, n_items]``: ``X[users] @ W``."""
        scores = (self.history[users.cpu().numpy()] @ self.weights).toarray()
        return torch.from_numpy(scores.astype(np.float32))
