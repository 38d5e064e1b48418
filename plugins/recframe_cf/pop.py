"""Most-popular baseline: every user gets the items with the most training interactions."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from recframe.data.interactions import Interactions
from recframe.models import ClosedFormRecommender, DatasetInfo


class Pop(ClosedFormRecommender):
    """Scores item ``i`` by its training interaction count (the same for every user)."""

    scores_unseen_items = True  # an item absent from training has count 0: ranked last, by definition

    def __init__(self, info: DatasetInfo) -> None:
        super().__init__(info)
        self.register_buffer("popularity", torch.zeros(self.n_items))

    def fit(self, train: Interactions) -> None:
        counts = np.bincount(train.item, minlength=self.n_items).astype(np.float32)
        self.popularity = torch.from_numpy(counts)

    def score_all(self, users: Tensor) -> Tensor:
        """``long[B] -> float[B, n_items]``: the popularity row, repeated."""
        return self.popularity.unsqueeze(0).expand(len(users), -1).clone()
