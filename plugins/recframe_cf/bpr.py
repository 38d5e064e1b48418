"""Matrix factorisation for implicit feedback, trained with BPR.

S. Rendle, C. Freudenthaler, Z. Gantner, L. Schmidt-Thieme. "BPR: Bayesian Personalized Ranking
from Implicit Feedback." UAI 2009.
"""

from __future__ import annotations

from torch import Tensor, nn

from recframe.models import DatasetInfo, Recommender


class BPRMF(Recommender):
    """Score ``s(u, i) = <p_u, q_i>`` with user and item embeddings of size ``embedding_dim``."""

    batch_kind = "pairwise"

    def __init__(self, info: DatasetInfo, embedding_dim: int = 64) -> None:
        super().__init__(info)
        if int(embedding_dim) < 1:
            raise ValueError(f"embedding_dim must be >= 1, got {embedding_dim}")
        self.user_embedding = nn.Embedding(self.n_users, int(embedding_dim))
        self.item_embedding = nn.Embedding(self.n_items, int(embedding_dim))
        nn.init.xavier_normal_(self.user_embedding.weight)
        nn.init.xavier_normal_(self.item_embedding.weight)

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        """``long[B], long[B] -> float[B]``."""
        return (self.user_embedding(users) * self.item_embedding(items)).sum(dim=-1)

    def score_all(self, users: Tensor) -> Tensor:
        """``long[B] -> float[B, n_items]``."""
        return self.user_embedding(users) @ self.item_embedding.weight.T
