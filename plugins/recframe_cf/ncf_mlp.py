"""The multi-layer perceptron half of NCF (NCF-MLP).

X. He, L. Liao, H. Zhang, L. Nie, X. Hu, T.-S. Chua. "Neural Collaborative Filtering." WWW 2017.

``s(u, i) = h^T MLP([p_u; q_i])`` with ReLU layers of sizes ``hidden_sizes``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from recframe.models import DatasetInfo, Recommender


def mlp(sizes: Sequence[int], dropout: float) -> nn.Sequential:
    """``Linear -> ReLU -> Dropout`` for each consecutive pair in ``sizes``."""
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Dropout(dropout), nn.Linear(fan_in, fan_out), nn.ReLU()]
    return nn.Sequential(*layers)


class NCFMLP(Recommender):
    """User and item embeddings concatenated into a tower of ``hidden_sizes``."""

    batch_kind = "pointwise"

    def __init__(self, info: DatasetInfo, embedding_dim: int = 64, hidden_sizes: Sequence[int] = (128, 64, 32),
                 dropout: float = 0.0) -> None:
        super().__init__(info)
        if not hidden_sizes:
            raise ValueError("hidden_sizes needs at least one layer")
        self.user_embedding = nn.Embedding(self.n_users, embedding_dim)
        self.item_embedding = nn.Embedding(self.n_items, embedding_dim)
        for emb in (self.user_embedding, self.item_embedding):
            nn.init.normal_(emb.weight, std=0.01)
        self.tower = mlp([2 * embedding_dim, *hidden_sizes], dropout)
        self.output = nn.Linear(hidden_sizes[-1], 1)

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        """``long[B], long[B] -> float[B]`` (logits)."""
        x = torch.cat([self.user_embedding(users), self.item_embedding(items)], dim=-1)
        return self.output(self.tower(x)).squeeze(-1)

    def score_all(self, users: Tensor) -> Tensor:
        """``long[B] -> float[B, n_items]``: every (user, item) pair through the tower."""
        b = len(users)
        items = torch.arange(self.n_items, device=users.device)
        return self.score(users.repeat_interleave(self.n_items), items.repeat(b)).view(b, self.n_items)
