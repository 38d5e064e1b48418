"""Item-based k-nearest-neighbour collaborative filtering.

B. Sarwar, G. Karypis, J. Konstan, J. Riedl. "Item-based Collaborative Filtering Recommendation
Algorithms." WWW 2001; M. Deshpande, G. Karypis. "Item-based top-N recommendation algorithms."
ACM TOIS 2004.

Similarity is cosine with shrinkage, ``sim(i, j) = <x_i, x_j> / (|x_i| |x_j| + shrink)`` over the
binary user-item matrix; for each item ``j`` only its ``k`` most similar items ``i != j`` are kept,
and a user's score for ``j`` is ``sum_i x_ui sim(i, j)`` over those neighbours (as in RecBole).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from recframe.api import Interactions
from recframe.api import ClosedFormRecommender, DatasetInfo


def topk_cosine(x: sp.csr_matrix, k: int, shrink: float, block: int = 1024) -> sp.csc_matrix:
    """``n_items x n_items`` similarity with the top ``k`` entries of each column kept.

    Computed in column blocks so memory is ``O(n_items * block)``.
    """
    xt = x.T.tocsr().astype(np.float32)  # items x users
    norms = np.sqrt(np.asarray(xt.multiply(xt).sum(axis=1)).ravel())
    n = xt.shape[0]
    k = min(k, n - 1)
    rows, cols, vals = [], [], []
    for start in range(0, n, block):
        stop = min(start + block, n)
        sims = (xt @ xt[start:stop].T).toarray()  # n x b
        sims /= norms[:, None] * norms[None, start:stop] + shrink + 1e-6
        sims[np.arange(start, stop), np.arange(stop - start)] = 0.0
        top = np.argpartition(-sims, k - 1, axis=0)[:k] if k < n else np.arange(n)[:, None]
        rows.append(top.ravel(order="F"))
        cols.append(np.repeat(np.arange(start, stop), top.shape[0]))
        vals.append(np.take_along_axis(sims, top, axis=0).ravel(order="F"))
    return sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))


class ItemKNN(ClosedFormRecommender):
    """Scores ``x_u @ W`` with ``W`` the column-wise top-``k`` cosine similarity matrix."""

    scores_unseen_items = True  # an item without training interactions scores 0 by construction

    def __init__(self, info: DatasetInfo, k: int = 100, shrink: float = 0.0) -> None:
        super().__init__(info)
        if int(k) < 1 or float(shrink) < 0:
            raise ValueError(f"need k >= 1 and shrink >= 0, got k={k}, shrink={shrink}")
        self.k, self.shrink = int(k), float(shrink)
        self.weights: sp.csr_matrix | None = None
        self.history: sp.csr_matrix | None = None

    def fit(self, train: Interactions) -> None:
        x = train.to_csr()
        x.data[:] = 1.0
        self.history = x
        self.weights = topk_cosine(x, self.k, self.shrink).tocsr()

    def storage(self) -> tuple[int, int]:
        """Stored values and bytes of the sparse similarity matrix (values, indices, row pointers)."""
        w = self.weights
        if w is None:
            return 0, 0
        return int(w.nnz), int(w.data.nbytes + w.indices.nbytes + w.indptr.nbytes)

    def score_all(self, users: Tensor) -> Tensor:
        """``long[B] -> float[B, n_items]``: ``X[users] @ W``."""
        scores = (self.history[users.cpu().numpy()] @ self.weights).toarray()
        return torch.from_numpy(scores.astype(np.float32))
