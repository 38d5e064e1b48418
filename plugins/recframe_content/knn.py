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
from recframe_content.representations import attribute_names, item_representation, l2_normalise
from recframe_content.sparse_rows import ContentRows, l2_normalise_rows


class ContentKNN(ClosedFormRecommender):
    """Cosine similarity between the user's mean item representation and each item's."""

    scores_unseen_items = True

    def __init__(
        self,
        info: DatasetInfo,
        representation: str = "attributes",
        text_fields: list[str] | tuple[str, ...] = ("title",),
        center: bool = False,
    ) -> None:
        super().__init__(info)
        x = item_representation(info.train.item_features, str(representation), tuple(text_fields))
        #: names of the representation's columns where they have names (attributes), for explanations
        self.term_names: list[str] | None = (
            attribute_names(info.train.item_features) if str(representation) == "attributes" else None
        )
        if center and sp.issparse(x):  # centring fills every entry: the dense path
            x = x.toarray()
        self.sparse = bool(sp.issparse(x))
        if self.sparse:  # TF-IDF: item vectors and user profiles stay CSR (sparse_rows.py)
            self.item_content = ContentRows(x, persistent=True)  # float32[n_items, d]
            self.profile_content = ContentRows(
                sp.csr_matrix((self.n_users, x.shape[1]), dtype=np.float32), persistent=True
            )  # float32[n_users, d]
            return
        if center:
            has_content = np.linalg.norm(x, axis=1) > 0
            x = np.where(has_content[:, None], l2_normalise(x - x[has_content].mean(axis=0)), 0.0).astype(np.float32)
        self.register_buffer("item_vectors", torch.from_numpy(x))  # float32[n_items, d]
        self.register_buffer("profiles", torch.zeros(self.n_users, x.shape[1]))  # float32[n_users, d]

    def fit(self, train: Interactions) -> None:
        r = sp.csr_matrix(
            (np.ones(len(train), dtype=np.float32), (train.user, train.item)), shape=(self.n_users, self.n_items)
        )
        r.data[:] = 1.0  # repeated interactions count once
        if self.sparse:  # the mean's direction is the sum's: normalising the sum gives the same profile
            content = self.item_content
            items = sp.csr_matrix(
                (content.val.numpy(), content.col.numpy(), content.crow.numpy()), shape=(content.n_rows, content.width)
            )
            self.profile_content = ContentRows(l2_normalise_rows(r @ items), persistent=True)
            return
        counts = np.asarray(r.sum(axis=1)).ravel()
        mean = r @ self.item_vectors.numpy() / np.maximum(counts, 1)[:, None]
        self.profiles = torch.from_numpy(l2_normalise(mean))

    def score_all(self, users: Tensor) -> Tensor:
        """``long[B] -> float[B, n_items]``: cosine of profile and item vectors."""
        if self.sparse:
            profiles = self.profile_content.dense(users)  # float32[B, d]: one batch at a time
            return self.item_content.project(None, profiles).T  # (X @ profiles.T).T
        return self.profiles[users] @ self.item_vectors.T

    def fold_in(self, items: Tensor) -> Tensor | None:
        """``long[n] -> float[n_items]``: cosine of every item with a new user's profile, the normalised mean
        of ``items``' content vectors. ``None`` for TF-IDF content (no dense vectors: recframe's error)."""
        if self.sparse:
            return None
        mean = self.item_vectors[torch.unique(items)].mean(dim=0)
        return self.item_vectors @ (mean / mean.norm().clamp_min(1e-12))

    def serving_factors(self, users: Tensor) -> tuple[Tensor, Tensor] | None:
        """``(profiles: float[B, d], item vectors: float[n_items, d])``: ``score_all`` is their product
        (dense content only; ``None`` for TF-IDF)."""
        return None if self.sparse else (self.profiles[users], self.item_vectors)
