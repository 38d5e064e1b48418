"""SLIM with an ElasticNet penalty: a sparse item-item linear model, one regression per item.

X. Ning, G. Karypis. "SLIM: Sparse Linear Methods for Top-N Recommender Systems." ICDM 2011.
Settings as in the SLIM ElasticNet baseline of Ferrari Dacrema et al., RecSys 2019 (which fits
scikit-learn's ``ElasticNet`` per item).

For each item ``j``, with ``X: [n_users, n_items]`` the binary interactions, the column
``w_j: float[n_items]`` minimises scikit-learn's ElasticNet objective

    ``1 / (2 n_users) ||X_j - X w_j||^2 + alpha l1_ratio ||w_j||_1 + alpha (1 - l1_ratio) / 2 ||w_j||^2``

subject to ``w_jj = 0`` (and ``w_j >= 0`` when ``positive_only``). Only the ``k`` largest
coefficients of each column are kept. A user's scores are ``x_u @ W``.

The solver here is cyclic coordinate descent on the residual (numba, compiled once; ``recframe[fast]``),
as scikit-learn's sparse solver, with an active set. For target ``j`` a thread keeps the residual
``r = X_j - X w_j: float64[n_users]`` and ``w_j: float64[n_items]``; the step for coordinate ``k``
reads only the users of item ``k`` (``rho = X_k^T r + |X_k| w_k``, soft-thresholded, then
``r -= delta X_k``), so a sweep over all coordinates costs ``nnz(X)`` and no ``n_items x n_items``
matrix is ever formed. After a full sweep, only the coordinates that are non-zero are swept until
they settle; then one full sweep checks whether any other coordinate enters. The columns run in
parallel (``numba.prange``), ``block`` of them at a time: memory ``O(nnz(X) + block * n_items)``
plus ``O(n_users + n_items)`` per thread. A column stops when a *full* sweep's largest coefficient
change is at most ``tol`` times the largest coefficient, or after ``max_iter`` sweeps in all (full
and active ones); scikit-learn's first stopping test, without its duality-gap check, so the
coefficients can differ at the solver's tolerance.
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


def _compile() -> Any:
    """The numba coordinate-descent kernel (compiled on first use, cached on disk)."""
    import numba

    @numba.njit(parallel=True, cache=True, fastmath=False)
    def solve_columns(
        indptr: np.ndarray,
        indices: np.ndarray,
        n_users: int,
        columns: np.ndarray,
        l1: float,
        l2: float,
        positive: bool,
        max_iter: int,
        tol: float,
    ) -> np.ndarray:
        n = indptr.shape[0] - 1
        out = np.zeros((len(columns), n))
        for c in numba.prange(len(columns)):
            j = columns[c]
            w = np.zeros(n)
            r = np.zeros(n_users)  # X_j - X w, with w = 0
            for p in range(indptr[j], indptr[j + 1]):
                r[indices[p]] = 1.0
            active = np.zeros(n, dtype=np.int64)
            is_active = np.zeros(n, dtype=np.bool_)
            n_active = 0
            full = True
            for _ in range(max_iter):
                max_change = 0.0
                max_w = 0.0
                todo = n if full else n_active
                for t in range(todo):
                    k = t if full else active[t]
                    count = indptr[k + 1] - indptr[k]
                    if k == j or count == 0:
                        continue
                    old = w[k]
                    rho = count * old
                    for p in range(indptr[k], indptr[k + 1]):
                        rho += r[indices[p]]
                    if positive:
                        new = max(rho - l1, 0.0) / (count + l2)
                    elif rho > l1:
                        new = (rho - l1) / (count + l2)
                    elif rho < -l1:
                        new = (rho + l1) / (count + l2)
                    else:
                        new = 0.0
                    delta = new - old
                    if delta != 0.0:
                        w[k] = new
                        for p in range(indptr[k], indptr[k + 1]):
                            r[indices[p]] -= delta
                        if abs(delta) > max_change:
                            max_change = abs(delta)
                    if new != 0.0:
                        if abs(new) > max_w:
                            max_w = abs(new)
                        if not is_active[k]:
                            is_active[k] = True
                            active[n_active] = k
                            n_active += 1
                settled = max_w == 0.0 or max_change <= tol * max_w
                if settled and full:
                    break
                full = settled  # settled on the active set: check every coordinate next
            out[c] = w
        return out

    return solve_columns


_KERNEL: list[Any] = []


def elasticnet_columns(
    x: sp.csc_matrix, columns: np.ndarray, l1: float, l2: float, positive: bool, max_iter: int, tol: float
) -> np.ndarray:
    """``float64[len(columns), n_items]``: the coefficient vector of each target column of the
    binary ``x: [n_users, n_items]`` (CSC), the unscaled penalties ``l1``/``l2`` (times ``n_users``)."""
    if not _KERNEL:
        _KERNEL.append(_compile())
    return _KERNEL[0](
        x.indptr.astype(np.int64),
        x.indices.astype(np.int64),
        int(x.shape[0]),
        columns.astype(np.int64),
        float(l1),
        float(l2),
        bool(positive),
        int(max_iter),
        float(tol),
    )


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
        xc = sp.csc_matrix(x)
        xc.sort_indices()
        l1 = n_users * self.alpha * self.l1_ratio
        l2 = n_users * self.alpha * (1.0 - self.l1_ratio)
        k = max(1, min(self.k, n - 1)) if n > 1 else 1
        rows, cols, vals = [], [], []
        for start in range(0, n, self.block):
            columns = np.arange(start, min(start + self.block, n))
            coef = elasticnet_columns(xc, columns, l1, l2, self.positive_only, self.max_iter, self.tol)  # b x n
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
