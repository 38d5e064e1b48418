"""Content-based kNN: a user is the mean of the representations of the items they interacted with.

P. Lops, M. de Gemmis, G. Semeraro. "Content-based Recommender Systems: State of the Art and Trends."
Recommender Systems Handbook, 2011 (the vector-space profile model).

``profile_u = normalise(mean_{i in I_u} x_i)``, ``s(u, i) = <profile_u, x_i>`` (cosine, since every
``x_i`` has unit or zero norm). Items never seen in training are scored from their content like any other.

``center: true`` subtracts the mean item vector before normalising, a common remedy for hubness (a few
items near the centre of a dense embedding space, e.g. MiniLM's, ranking high for every user).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from recframe.api import Interactions
from recframe.api import ClosedFormRecommender, DatasetInfo
from recframe_content.representations import item_representation, l2_normalise


class ContentKNN(ClosedFormRecommender):
    """Cosine similarity between the user's mean item representation and each item's."""

    scores_unseen_items = True

    def __init__(self, info: DatasetInfo, representation: str = "attributes",
                 text_fields: list[str] | tuple[str, ...] = ("title",), center: bool = False) -> None:
        super().__init__(info)
        x = item_representation(info.train.item_features, str(representation), tuple(text_fields))
        if center:
            has_content = np.linalg.norm(x, axis=1) > 0
            x = np.where(has_content[:, None], l2_normalise(x - x[has_content].mean(axis=0)), 0.0).astype(np.float32)
        self.register_buffer("item_vectors", torch.from_numpy(x))  # float32[n_items, d]
        self.register_buffer("profiles", torch.zeros(self.n_users, x.shape[1]))  # float32[n_users, d]

    def fit(self, train: Interactions) -> None:
        r = sp.csr_matrix((np.ones(len(train), dtype=np.float32), (train.user, train.item)),
                          shape=(self.n_users, self.n_items))
        r.data[:] = 1.0  # repeated interactions count once
        counts = np.asarray(r.sum(axis=1)).ravel()
        mean = r @ self.item_vectors.numpy() / np.maximum(counts, 1)[:, None]
        self.profiles = torch.from_numpy(l2_normalise(mean))

    def score_all(self, users: Tensor) -> Tensor:
        """``long[B] -> float[B, n_items]``: cosine of profile and item vectors."""
        return self.profiles[users] @ self.item_vectors.T
