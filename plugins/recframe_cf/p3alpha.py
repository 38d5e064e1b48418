"""P3alpha: random walks of length three on the user-item graph.

C. Cooper, S. H. Lee, T. Radzik, Y. Siantos. "Random Walks in Recommender Systems: Exact Computation
and Simulations." WWW 2014 (companion). Settings as in the graph baselines of Ferrari Dacrema et al.,
RecSys 2019.

With the binary interactions ``X: [n_users, n_items]``, ``P_ui = X / rowsum(X)`` (user to item) and
``P_iu = X^T / rowsum(X^T)`` (item to user) are the one-step transition probabilities, each raised
element-wise to the power ``alpha``. The item-item weight ``W[i, j] = (P_iu^alpha @ P_ui^alpha)[i, j]``
is the (sharpened) probability of walking from item ``i`` through a user to item ``j``; the diagonal
is set to 0 and each *row* ``i`` keeps its ``k`` largest weights, optionally rescaled to sum to 1;
then each *column* ``j`` keeps its ``k`` largest weights too. That order (row cut, row normalisation,
column cut) is the study's definition (its ``P3alphaRecommender``/``RP3betaRecommender`` and their
``similarityMatrixTopK``): after the normalisation a column may hold more than ``k`` entries, and the
second cut keeps, for each destination, the ``k`` sources that lead to it most strongly.
A user's scores are ``x_u @ W``: the three-step walk user -> item -> user -> item.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from recframe.api import ClosedFormRecommender, DatasetInfo, Interactions
from recframe_cf.itemknn import sparse_storage

#: dense ``block x n_items`` work arrays are kept near this many float64 values (~128 MiB)
BLOCK_VALUES = 16 * 1024 * 1024


def _row_normalised(m: sp.csr_matrix) -> sp.csr_matrix:
    sums = np.asarray(m.sum(axis=1), dtype=np.float64).ravel()
    inv = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums != 0)
    return sp.csr_matrix(sp.diags(inv) @ m)


def column_top_k(m: sp.spmatrix, k: int) -> sp.csr_matrix:
    """``m`` with only the ``k`` largest stored values of each column kept (ties: any ``k`` of them)."""
    csc = sp.csc_matrix(m)
    csc.sort_indices()
    counts = np.diff(csc.indptr)
    keep = np.ones(csc.nnz, dtype=bool)
    for col in np.flatnonzero(counts > k):
        start, stop = csc.indptr[col], csc.indptr[col + 1]
        order = np.argpartition(-csc.data[start:stop], k - 1)
        keep[start + order[k:]] = False
    rows = csc.indices[keep]
    cols = np.repeat(np.arange(csc.shape[1]), counts)[keep]
    return sp.csr_matrix((csc.data[keep], (rows, cols)), shape=csc.shape)


def walk_weights(
    x: sp.csr_matrix, k: int, alpha: float, beta: float = 0.0, normalize: bool = False, block: int | None = None
) -> sp.csr_matrix:
    """``float32[n_items, n_items]`` walk weights from ``x: [n_users, n_items]``: the top ``k`` of each
    row (:func:`row_walk_weights`, rows optionally normalised), then the top ``k`` of each column."""
    rows = row_walk_weights(x, k, alpha, beta, normalize, block)
    return sp.csr_matrix(column_top_k(rows, rows_k(k, x.shape[1])), dtype=np.float32)


def rows_k(k: int, n: int) -> int:
    """The neighbourhood size actually kept: ``k`` clipped to ``[1, n - 1]`` (the diagonal is 0)."""
    return max(1, min(int(k), n - 1)) if n > 1 else 1


def row_walk_weights(
    x: sp.csr_matrix, k: int, alpha: float, beta: float = 0.0, normalize: bool = False, block: int | None = None
) -> sp.csr_matrix:
    """``float64[n_items, n_items]`` walk weights, top ``k`` per row (each row optionally rescaled to
    sum to 1), from ``x: [n_users, n_items]``: the first stage of :func:`walk_weights`.

    ``W[i, j] = (P_iu^alpha @ P_ui^alpha)[i, j] * pop_j^-beta`` (``beta = 0``: P3alpha; RP3beta's
    popularity penalty otherwise, ``pop_j`` the training count of ``j``, items without one keep 0).
    Computed ``block`` source rows at a time: memory ``O(block * n_items)``.
    """
    x = sp.csr_matrix(x, dtype=np.float64, copy=True)
    x.data[:] = 1.0
    p_ui = _row_normalised(x)
    p_iu = _row_normalised(sp.csr_matrix(x.T))
    if alpha != 1.0:
        p_ui = p_ui.power(alpha)
        p_iu = p_iu.power(alpha)
    n = x.shape[1]
    popularity = np.asarray(x.sum(axis=0), dtype=np.float64).ravel()
    penalty = np.zeros(n)
    penalty[popularity > 0] = np.power(popularity[popularity > 0], -beta)
    k = rows_k(k, n)
    block = block or max(1, min(n, BLOCK_VALUES // max(n, 1)))
    rows, cols, vals = [], [], []
    for start in range(0, n, block):
        stop = min(start + block, n)
        w = (p_iu[start:stop] @ p_ui).toarray()  # b x n
        if beta != 0.0:
            w *= penalty[None, :]
        w[np.arange(stop - start), np.arange(start, stop)] = 0.0
        top = np.argpartition(-w, k - 1, axis=1)[:, :k] if k < n else np.broadcast_to(np.arange(n), w.shape)
        top_vals = np.take_along_axis(w, top, axis=1)
        keep = top_vals != 0.0
        rows.append(np.broadcast_to(np.arange(start, stop)[:, None], top.shape)[keep])
        cols.append(top[keep])
        vals.append(top_vals[keep])
    weights = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    if normalize:
        weights = _row_normalised(weights)
    return weights


def check_walk_options(k: int, alpha: float, beta: float) -> None:
    if int(k) < 1 or float(alpha) < 0 or float(beta) < 0:
        raise ValueError(f"need k >= 1, alpha >= 0 and beta >= 0, got k={k}, alpha={alpha}, beta={beta}")


class P3alpha(ClosedFormRecommender):
    """Scores ``x_u @ W`` with ``W: float[n_items, n_items]`` the row- then column-wise top-``k`` walk weights."""

    scores_unseen_items = True  # an item without training interactions is never reached: score 0

    def __init__(self, info: DatasetInfo, k: int = 100, alpha: float = 1.0, normalize_similarity: bool = False) -> None:
        super().__init__(info)
        check_walk_options(k, alpha, 0.0)
        self.k, self.alpha, self.normalize_similarity = int(k), float(alpha), bool(normalize_similarity)
        self.weights: sp.csr_matrix | None = None
        self.history: sp.csr_matrix | None = None

    def fit(self, train: Interactions) -> None:
        x = train.to_csr()
        x.data[:] = 1.0
        self.history = x
        self.weights = walk_weights(x, self.k, self.alpha, 0.0, self.normalize_similarity)

    def storage(self) -> tuple[int, int]:
        """Stored values and bytes of the sparse item-item weights."""
        return sparse_storage([self.weights])

    def score_all(self, users: Tensor) -> Tensor:
        """``long[B] -> float[B, n_items]``: ``X[users] @ W``."""
        scores = (self.history[users.cpu().numpy()] @ self.weights).toarray()
        return torch.from_numpy(scores.astype(np.float32))
