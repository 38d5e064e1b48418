"""DeepFM (H. Guo, R. Tang, Y. Ye, Z. Li, X. He, *DeepFM: A Factorization-Machine based Neural
Network for CTR Prediction*, IJCAI 2017, doi 10.24963/ijcai.2017/239).

An FM component and a deep component share the field embeddings:
``y = w0 + sum_f w_f + sum_{f<g} <v_f, v_g> + MLP([v_1; ...; v_F])``.
The deep part is ``num_layers`` ReLU layers of ``hidden_size`` units with dropout, then a linear
output unit.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from recframe.api import DatasetInfo
from recframe_context.fields import ContextRecommender, FirstOrder, mlp, mlp_on_pairs, splittable
from recframe_context.fm import pairwise_interactions


class DeepFM(ContextRecommender):
    """FM and MLP over shared field embeddings.

    Args:
        info: the training data and its feature tables.
        embedding_dim: ``d``, the size of every field vector.
        num_layers, hidden_size: depth and width of the deep part.
        dropout: dropout after every hidden layer.
        rank_context: the context used for ranking (see ``fields.py``).
    """

    param_aliases = {"embedding_size": "embedding_dim"}  # deprecated config names, still accepted

    def __init__(
        self,
        info: DatasetInfo,
        embedding_dim: int = 16,
        num_layers: int = 3,
        hidden_size: int = 256,
        dropout: float = 0.1,
        rank_context: Any = "last",
    ) -> None:
        super().__init__(info, embedding_dim, rank_context)
        self.linear = FirstOrder(self.tables)
        self.deep = mlp(self.n_fields * embedding_dim, hidden_size, num_layers, dropout)
        self.out = nn.Linear(hidden_size, 1)
        self.init_weights()

    def combine(self, v: Tensor, linear: Tensor | None) -> Tensor:
        """``v: float[N, F, d]``, ``linear: float[N] -> float[N]``: first order + FM + deep."""
        deep = self.out(self.deep(v.flatten(1))).squeeze(-1)
        return linear + pairwise_interactions(v) + deep

    def score_sides(self, vq: Tensor, vi: Tensor, lq: Tensor | None, li: Tensor | None) -> Tensor | None:
        """``float[B, n_items]``: the FM part in closed form (as FM's ``score_all``) and the deep part
        with its first layer split by side (:func:`mlp_on_pairs`)."""
        first = self.deep[0]
        if not splittable(first, self.out) or lq is None or li is None:
            return None
        xq, xi = vq.flatten(1), vi.flatten(1)  # [B, F d], [n_items, F d]
        deep = mlp_on_pairs(self.deep, xq @ first.weight.T + first.bias, xi @ first.weight.T, self.out.weight[0])
        own_q = lq + pairwise_interactions(vq)  # [B]
        own_i = li + pairwise_interactions(vi)  # [n_items]
        return deep + (vq.sum(1) @ vi.sum(1).T + own_q[:, None] + own_i[None, :] + self.out.bias)
