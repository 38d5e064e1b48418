"""Wide & Deep (H.-T. Cheng et al., *Wide & Deep Learning for Recommender Systems*, DLRS 2016,
doi 10.1145/2988450.2988454).

``y = wide(x) + deep(x)``: the wide part is a linear model over every field's (multi-)one-hot
indicators; the deep part is an MLP over the concatenated field embeddings. The paper's wide part
also takes hand-picked cross-product transformations; none are declared here (as in RecBole's
implementation), so the wide part is the first-order term.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from recframe.api import DatasetInfo
from recframe_context.fields import ContextRecommender, FirstOrder, mlp, mlp_on_pairs, splittable


class WideDeep(ContextRecommender):
    """A linear (wide) and an MLP (deep) part, summed into one logit.

    Args:
        info: the training data and its feature tables.
        embedding_dim: ``d``, the size of every field vector fed to the deep part.
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
        dropout: float = 0.2,
        rank_context: Any = "last",
    ) -> None:
        super().__init__(info, embedding_dim, rank_context)
        self.linear = FirstOrder(self.tables)  # the wide part
        self.deep = mlp(self.n_fields * embedding_dim, hidden_size, num_layers, dropout)
        self.out = nn.Linear(hidden_size, 1)
        self.init_weights()

    def combine(self, v: Tensor, linear: Tensor | None) -> Tensor:
        """``v: float[N, F, d]``, ``linear: float[N]`` (the wide part) ``-> float[N]``."""
        return linear + self.out(self.deep(v.flatten(1))).squeeze(-1)

    def score_sides(self, vq: Tensor, vi: Tensor, lq: Tensor | None, li: Tensor | None) -> Tensor | None:
        """``float[B, n_items]``: the wide part per side, the deep part's first layer split by side."""
        first = self.deep[0]
        if not splittable(first, self.out) or lq is None or li is None:
            return None
        xq, xi = vq.flatten(1), vi.flatten(1)  # [B, F d], [n_items, F d]
        deep = mlp_on_pairs(self.deep, xq @ first.weight.T + first.bias, xi @ first.weight.T, self.out.weight[0])
        return deep + (lq[:, None] + li[None, :] + self.out.bias)
