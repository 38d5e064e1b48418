"""RP3beta: P3alpha's three-step walk, re-ranked by item popularity.

B. Paudel, F. Christoffel, C. Newell, A. Bernstein. "Updatable, Accurate, Diverse, and Scalable
Recommendations for Interactive Applications." ACM TiiS 7(1), 2017. Settings as in the graph
baselines of Ferrari Dacrema et al., RecSys 2019.

``W[i, j] = (P_iu^alpha @ P_ui^alpha)[i, j] / pop_j^beta``: the walk probability of
:mod:`recframe_cf.p3alpha` divided by the destination's training count to the power ``beta``, which
lifts the long tail (``beta = 0`` is P3alpha). Diagonal 0, top ``k`` per row, optionally each row
rescaled to sum to 1, then top ``k`` per column (the study's order, :func:`recframe_cf.p3alpha.walk_weights`);
scores ``x_u @ W``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from recframe.api import ClosedFormRecommender, DatasetInfo, Interactions
from recframe_cf.itemknn import sparse_storage
from recframe_cf.p3alpha import check_walk_options, walk_weights


class RP3beta(ClosedFormRecommender):
    """Scores ``x_u @ W`` with ``W: float[n_items, n_items]`` the popularity-penalised walk weights."""

    scores_unseen_items = True  # an item without training interactions is never reached: score 0

    def __init__(
        self, info: DatasetInfo, k: int = 100, alpha: float = 1.0, beta: float = 0.5, normalize_similarity: bool = False
    ) -> None:
        super().__init__(info)
        check_walk_options(k, alpha, beta)
        self.k, self.alpha, self.beta = int(k), float(alpha), float(beta)
        self.normalize_similarity = bool(normalize_similarity)
        self.weights: sp.csr_matrix | None = None
        self.history: sp.csr_matrix | None = None

    def fit(self, train: Interactions) -> None:
        x = train.to_csr()
        x.data[:] = 1.0
        self.history = x
        self.weights = walk_weights(x, self.k, self.alpha, self.beta, self.normalize_similarity)

    def storage(self) -> tuple[int, int]:
        """Stored values and bytes of the sparse item-item weights."""
        return sparse_storage([self.weights])

    def score_all(self, users: Tensor) -> Tensor:
        """``long[B] -> float[B, n_items]``: ``X[users] @ W``."""
        scores = (self.history[users.cpu().numpy()] @ self.weights).toarray()
        return torch.from_numpy(scores.astype(np.float32))
