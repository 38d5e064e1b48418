"""Factorization Machine (S. Rendle, *Factorization Machines*, ICDM 2010, doi 10.1109/ICDM.2010.127).

Over ``F`` field vectors ``v_f in R^d`` (``recframe/data/features.py``):

    y(x) = w0 + sum_f w_f + sum_{f < g} <v_f, v_g>
         = w0 + sum_f w_f + 1/2 * sum_k [(sum_f v_fk)^2 - sum_f v_fk^2]     (Rendle's Lemma 3.1, O(F d))

Full ranking uses the same identity with the fields split into the user's and context's (``q``)
and the item's (``i``): ``pairs(q + i) = pairs(q) + pairs(i) + <sum q, sum i>``, so ``score_all``
is one ``[B, d] x [d, n_items]`` product instead of ``B * n_items`` forward passes.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from recframe.api import DatasetInfo
from recframe_context.fields import ContextRecommender, FirstOrder


def pairwise_interactions(v: Tensor) -> Tensor:
    """``sum_{f<g} <v_f, v_g>`` of ``v: float[B, F, d]`` as ``float[B]`` (sum-of-squares identity)."""
    return 0.5 * (v.sum(dim=1).pow(2) - v.pow(2).sum(dim=1)).sum(dim=1)


class FM(ContextRecommender):
    """Second-order factorization machine over the declared feature fields.

    Args:
        info: the training data and its feature tables.
        embedding_dim: ``d``, the size of every field vector.
        rank_context: the context used for ranking (see ``fields.py``).
    """

    param_aliases = {"embedding_size": "embedding_dim"}  # deprecated config names, still accepted

    def __init__(self, info: DatasetInfo, embedding_dim: int = 16, rank_context: Any = "last") -> None:
        super().__init__(info, embedding_dim, rank_context)
        self.linear = FirstOrder(self.tables)
        self.init_weights()

    def combine(self, v: Tensor, linear: Tensor | None) -> Tensor:
        """``v: float[N, F, d]``, ``linear: float[N] -> float[N]``."""
        return linear + pairwise_interactions(v)

    def score_all(self, users: Tensor) -> Tensor:
        """``long[B] -> float[B, n_items]`` in closed form (user+context part, item part, their dot product)."""
        query, cand = self.side_slots(users)
        vq, vi = self.embed(query), self.embed(cand)  # [B, F, d], [n_items, F, d]
        own_q = self.linear.per_field(query).sum(1) + pairwise_interactions(vq)  # [B]
        own_i = self.linear.per_field(cand).sum(1) + pairwise_interactions(vi)  # [n_items]
        return own_q[:, None] + own_i[None, :] + vq.sum(1) @ vi.sum(1).T + self.linear.bias
