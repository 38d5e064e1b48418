"""NeuMF: GMF and NCF-MLP fused under one output layer.

X. He, L. Liao, H. Zhang, L. Nie, X. Hu, T.-S. Chua. "Neural Collaborative Filtering." WWW 2017.

``s(u, i) = h^T [p^G_u * q^G_i ; MLP([p^M_u; q^M_i])]`` with separate embeddings for the two paths;
trained pointwise with BCE against ``num_negatives`` sampled items per positive (4 in the paper).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from recframe.api import DatasetInfo, Recommender
from recframe_cf.ncf_mlp import first_layer, is_float_linear, mlp, score_every_pair, tower_on_all_pairs


class NeuMF(Recommender):
    """GMF embeddings of ``embedding_dim``, MLP embeddings of ``mlp_embedding_dim``, tower ``hidden_sizes``."""

    batch_kind = "pointwise"

    def __init__(
        self,
        info: DatasetInfo,
        embedding_dim: int = 64,
        mlp_embedding_dim: int = 64,
        hidden_sizes: Sequence[int] = (128, 64),
        dropout: float = 0.1,
    ) -> None:
        super().__init__(info)
        if not hidden_sizes:
            raise ValueError("hidden_sizes needs at least one layer")
        self.gmf_user = nn.Embedding(self.n_users, embedding_dim)
        self.gmf_item = nn.Embedding(self.n_items, embedding_dim)
        self.mlp_user = nn.Embedding(self.n_users, mlp_embedding_dim)
        self.mlp_item = nn.Embedding(self.n_items, mlp_embedding_dim)
        for emb in (self.gmf_user, self.gmf_item, self.mlp_user, self.mlp_item):
            nn.init.normal_(emb.weight, std=0.01)
        self.tower = mlp([2 * mlp_embedding_dim, *hidden_sizes], dropout)
        self.output = nn.Linear(embedding_dim + hidden_sizes[-1], 1)

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        """``long[B], long[B] -> float[B]`` (logits)."""
        gmf = self.gmf_user(users) * self.gmf_item(items)
        deep = self.tower(torch.cat([self.mlp_user(users), self.mlp_item(items)], dim=-1))
        return self.output(torch.cat([gmf, deep], dim=-1)).squeeze(-1)

    def score_all(self, users: Tensor) -> Tensor:
        """``long[B] -> float[B, n_items]``: every (user, item) pair; the output layer split by path.

        ``h^T [g; m] = h_g^T (p_u * q_i) + h_m^T m_ui``: the GMF part is one ``[B, d] x [d, I]``
        product, the MLP part :func:`tower_on_all_pairs`. Compressed layers go pair by pair.
        """
        if not is_float_linear(first_layer(self.tower), self.output):
            return score_every_pair(self, users)
        d = self.gmf_user.embedding_dim
        h_gmf, h_mlp = self.output.weight[0, :d], self.output.weight[0, d:]
        gmf = (self.gmf_user(users) * h_gmf) @ self.gmf_item.weight.T  # [B, I]
        deep = tower_on_all_pairs(self.tower, self.mlp_user(users), self.mlp_item.weight, head=h_mlp)  # [B, I]
        return gmf + deep + self.output.bias
