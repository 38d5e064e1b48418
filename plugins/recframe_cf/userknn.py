"""User-based k-nearest-neighbour collaborative filtering.

J. Herlocker, J. Konstan, A. Borchers, J. Riedl. "An Algorithmic Framework for Performing
Collaborative Filtering." SIGIR 1999; P. Resnick et al. "GroupLens: An Open Architecture for
Collaborative Filtering of Netnews." CSCW 1994. Similarity and weighting options as in the
neighbourhood baselines of Ferrari Dacrema et al., RecSys 2019 (:mod:`recframe_cf.similarity`).

For each user ``u`` only the ``k`` most similar users ``v != u`` are kept (``S: float[n_users,
n_users]``, row ``u`` holding ``u``'s neighbours), and ``u``'s score for item ``i`` is
``sum_v S[u, v] x_vi``. With a feature weighting (documents: users; terms: items), ``x`` is the
reweighted matrix both for the similarity and for scoring.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from recframe.api import Interactions
from recframe_cf.itemknn import NeighbourhoodRecommender, sparse_storage
from recframe_cf.similarity import weight_features


class UserKNN(NeighbourhoodRecommender):
    """Scores ``S[users] @ X`` with ``S`` the row-wise top-``k`` user similarity."""

    scores_unseen_items = True  # an item without training interactions scores 0 by construction

    user_weights: sp.csr_matrix | None = None  # set by fit
    history: sp.csr_matrix | None = None  # the training matrix scores are read from, set by fit

    def fit(self, train: Interactions) -> None:
        x = train.to_csr()
        x.data[:] = 1.0
        xt = weight_features(sp.csr_matrix(x.T), self.feature_weighting)  # items x users
        self.history = sp.csr_matrix(xt.T, dtype=np.float32)
        sims = self.neighbour_similarity(xt)  # column u: u's neighbours
        self.user_weights = sp.csr_matrix(sims.T)

    def storage(self) -> tuple[int, int]:
        """Stored values and bytes of the sparse user similarity matrix."""
        return sparse_storage([self.user_weights])

    def score_all(self, users: Tensor) -> Tensor:
        """``long[B] -> float[B, n_items]``: ``S[users] @ X``."""
        scores = (self.user_weights[users.cpu().numpy()] @ self.history).toarray()
        return torch.from_numpy(scores.astype(np.float32))
