"""User-based k-nearest-neighbour collaborative filtering.

J. Herlocker, J. Konstan, A. Borchers, J. Riedl. "An Algorithmic Framework for Performing
Collaborative Filtering." SIGIR 1999; P. Resnick et al. "GroupLens: An Open Architecture for
Collaborative Filtering of Netnews." CSCW 1994. Similarity and weighting options as in the
neighbourhood baselines of Ferrari Dacrema et al., RecSys 2019 (:mod:`recframe_cf.similarity`).

Each user ``v`` keeps its ``k`` most similar users ``u != v`` (``S: float[n_users, n_users]``,
column ``v`` holding ``v``'s neighbours), and ``u``'s score for item ``i`` is ``sum_v S[u, v] x_vi``:
row ``u`` of ``S``, the users that count ``u`` among their ``k`` nearest. That is the study's
definition (its ``UserKNNCFRecommender`` scores ``W[u] @ X`` with a column-wise top-``k`` ``W``); it
coincides with "``u``'s own ``k`` nearest" only without the cut. With a feature weighting, ``x`` is
reweighted as for ItemKNN (documents: items; terms: users; the study's ``okapi_BM_25(URM.T).T`` for
both models), both for the similarity and for scoring.
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
    """Scores ``S[users] @ X`` with ``S`` the column-wise top-``k`` user similarity."""

    scores_unseen_items = True  # an item without training interactions scores 0 by construction

    user_weights: sp.csr_matrix | None = None  # set by fit
    history: sp.csr_matrix | None = None  # the training matrix scores are read from, set by fit

    def fit(self, train: Interactions) -> None:
        x = train.to_csr()
        x.data[:] = 1.0
        x = weight_features(x, self.feature_weighting)  # documents: items; terms: users
        self.history = sp.csr_matrix(x, dtype=np.float32)
        sims = self.neighbour_similarity(sp.csr_matrix(x.T))  # column v: v's k nearest users
        self.user_weights = sp.csr_matrix(sims)  # row u: the users that count u among their k nearest

    def storage(self) -> tuple[int, int]:
        """Stored values and bytes of the sparse user similarity matrix."""
        return sparse_storage([self.user_weights])

    def score_all(self, users: Tensor) -> Tensor:
        """``long[B] -> float[B, n_items]``: ``S[users] @ X``."""
        scores = (self.user_weights[users.cpu().numpy()] @ self.history).toarray()
        return torch.from_numpy(scores.astype(np.float32))
