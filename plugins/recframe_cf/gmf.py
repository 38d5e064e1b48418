"""Generalized matrix factorization (GMF), the linear half of NCF.

X. He, L. Liao, H. Zhang, L. Nie, X. Hu, T.-S. Chua. "Neural Collaborative Filtering." WWW 2017.

``s(u, i) = h^T (p_u * q_i)``: an element-wise product of embeddings weighted by a learned vector;
trained pointwise with BCE on sampled negatives in the paper.
"""

from __future__ import annotations

from torch import Tensor, nn

from recframe.api import DatasetInfo, Recommender


class GMF(Recommender):
    """Embeddings of size ``embedding_dim`` and an output weight ``h``."""

    batch_kind = "pointwise"

    def __init__(self, info: DatasetInfo, embedding_dim: int = 64) -> None:
        super().__init__(info)
        self.user_embedding = nn.Embedding(self.n_users, embedding_dim)
        self.item_embedding = nn.Embedding(self.n_items, embedding_dim)
        self.output = nn.Linear(embedding_dim, 1)
        for emb in (self.user_embedding, self.item_embedding):
            nn.init.normal_(emb.weight, std=0.01)

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        """``long[B], long[B] -> float[B]`` (logits)."""
        return self.output(self.user_embedding(users) * self.item_embedding(items)).squeeze(-1)

    def score_all(self, users: Tensor) -> Tensor:
        """``long[B] -> float[B, n_items]``: ``(p_u * h) @ Q^T + b``."""
        weighted = self.user_embedding(users) * self.output.weight
        return weighted @ self.item_embedding.weight.T + self.output.bias

    def score_factors(self, users: Tensor) -> tuple[Tensor, Tensor]:
        """``((p_u * h)[B, d], Q[n_items, d])``: ``score_all`` is their product plus the constant bias."""
        return self.user_embedding(users) * self.output.weight, self.item_embedding.weight
