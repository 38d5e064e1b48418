"""Item-based k-nearest-neighbour collaborative filtering.

B. Sarwar, G. Karypis, J. Konstan, J. Riedl. "Item-based Collaborative Filtering Recommendation
Algorithms." WWW 2001; M. Deshpande, G. Karypis. "Item-based top-N recommendation algorithms."
ACM TOIS 2004. Similarity and weighting options as in the neighbourhood baselines of Ferrari Dacrema
et al., RecSys 2019 (:mod:`recframe_cf.similarity`).

The default is cosine with shrinkage, ``sim(i, j) = <x_i, x_j> / (|x_i| |x_j| + shrink)`` over the
binary user-item matrix; for each item ``j`` only its ``k`` most similar items ``i != j`` are kept,
and a user's score for ``j`` is ``sum_i x_ui sim(i, j)`` over those neighbours (as in RecBole). With
a feature weighting, ``x`` is the reweighted matrix both for the similarity and for scoring.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from recframe.api import ClosedFormRecommender, DatasetInfo, Interactions
from recframe_cf.similarity import check_options, topk_similarity, weight_features


def topk_cosine(x: sp.csr_matrix, k: int, shrink: float, block: int | None = None) -> sp.csc_matrix:
    """``n_items x n_items`` cosine similarity of the columns of ``x: float[n_users, n_items]``, top ``k``
    entries of each column kept (see :func:`recframe_cf.similarity.topk_similarity`)."""
    return topk_similarity(x, k, "cosine", shrink, block=block)


def sparse_storage(matrices: list[sp.spmatrix | np.ndarray | None]) -> tuple[int, int]:
    """Stored values and bytes of sparse matrices (values, indices, row pointers) and dense arrays."""
    values = nbytes = 0
    for m in matrices:
        if m is None:
            continue
        if sp.issparse(m):
            values += int(m.nnz)
            nbytes += int(m.data.nbytes + m.indices.nbytes + m.indptr.nbytes)
        else:
            values += int(m.size)
            nbytes += int(m.nbytes)
    return values, nbytes


class NeighbourhoodRecommender(ClosedFormRecommender):
    """What ItemKNN and UserKNN share: the similarity options (``recframe_cf.similarity``) and the
    column-wise top-``k`` similarity of the rows of a weighted interaction matrix."""

    def __init__(
        self,
        info: DatasetInfo,
        k: int = 100,
        shrink: float = 0.0,
        similarity: str = "cosine",
        normalize: bool = True,
        feature_weighting: str = "none",
        asymmetric_alpha: float = 0.5,
        tversky_alpha: float = 1.0,
        tversky_beta: float = 1.0,
    ) -> None:
        super().__init__(info)
        check_options(similarity, feature_weighting, k, shrink, asymmetric_alpha, tversky_alpha, tversky_beta)
        self.k, self.shrink, self.similarity, self.normalize = int(k), float(shrink), str(similarity), bool(normalize)
        self.feature_weighting = str(feature_weighting)
        self.asymmetric_alpha, self.tversky_alpha, self.tversky_beta = (
            float(asymmetric_alpha),
            float(tversky_alpha),
            float(tversky_beta),
        )

    def neighbour_similarity(self, rows: sp.csr_matrix) -> sp.csc_matrix:
        """``float[n, n]``: the top-``k`` similarity of the rows of ``rows`` (``n x m``), column ``j``
        holding ``j``'s neighbours, under this model's options."""
        return topk_similarity(
            rows,
            self.k,
            self.similarity,
            self.shrink,
            self.normalize,
            self.asymmetric_alpha,
            self.tversky_alpha,
            self.tversky_beta,
        )


class ItemKNN(NeighbourhoodRecommender):
    """Scores ``x_u @ W`` with ``W: float[n_items, n_items]`` the column-wise top-``k`` item similarity."""

    scores_unseen_items = True  # an item without training interactions scores 0 by construction

    weights: sp.csr_matrix | None = None  # set by fit
    history: sp.csr_matrix | None = None  # the training matrix scores are read from, set by fit

    def fit(self, train: Interactions) -> None:
        x = train.to_csr()
        x.data[:] = 1.0
        x = weight_features(x, self.feature_weighting)  # documents: items; terms: users
        self.history = sp.csr_matrix(x, dtype=np.float32)
        self.weights = self.neighbour_similarity(x).tocsr()

    def storage(self) -> tuple[int, int]:
        """Stored values and bytes of the sparse similarity matrix (values, indices, row pointers)."""
        return sparse_storage([self.weights])

    def score_all(self, users: Tensor) -> Tensor:
        """``long[B] -> float[B, n_items]``: ``X[users] @ W``."""
        scores = (self.history[users.cpu().numpy()] @ self.weights).toarray()
        return torch.from_numpy(scores.astype(np.float32))
