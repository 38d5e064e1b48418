"""Item-bias model: ``s(u, i) = b_u + b_i``, a popularity baseline learned with BPR.

Under BPR the user bias cancels, so the ranking is by learned item bias: it is the gradient-trained
counterpart of the Pop baseline.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from recframe.api import DatasetInfo, Recommender


class ItemBias(Recommender):
    """Per-item and per-user scalar biases."""

    batch_kind = "pairwise"

    def __init__(self, info: DatasetInfo, init_std: float = 0.01) -> None:
        super().__init__(info)
        self.user_bias = nn.Parameter(torch.randn(self.n_users) * init_std)
        self.item_bias = nn.Parameter(torch.randn(self.n_items) * init_std)

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        """``long[B], long[B] -> float[B]``."""
        return self.user_bias[users] + self.item_bias[items]

    def score_all(self, users: Tensor) -> Tensor:
        """``long[B] -> float[B, n_items]``."""
        return self.user_bias[users].unsqueeze(1) + self.item_bias.unsqueeze(0)
