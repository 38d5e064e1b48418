"""Most-popular baseline: every user gets the items with the most training interactions.

``counting: exact`` (the default) scores an item by its number of training interactions.
``counting: recbole_batches`` reproduces how RecBole 1.2's ``Pop`` counts during its single training
epoch, which is what its published ML-1M number measures: the training interactions are shuffled
into pointwise batches of ``batch_size`` rows (``batch_size / (1 + num_negatives)`` positives, each
with ``num_negatives`` uniformly sampled items the user never interacted with), and every item
present in a batch, as a positive or as a negative, gains one (``item_cnt[item] += 1`` with
repeated indices adds one per batch). Frequent items saturate near the number of batches and
sampled negatives add noise, which flattens the head of the ranking.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from recframe.api import Interactions
from recframe.api import ClosedFormRecommender, DatasetInfo
from recframe.api import NegativeSampler

COUNTINGS = ("exact", "recbole_batches")


def batch_presence_counts(
    train: Interactions, batch_size: int, num_negatives: int, rng: np.random.Generator
) -> np.ndarray:
    """``float32[n_items]``: in how many pointwise batches of one shuffled epoch each item appears.

    A batch holds ``batch_size // (1 + num_negatives)`` positives and their sampled negatives.
    """
    positives_per_batch = max(int(batch_size) // (1 + int(num_negatives)), 1)
    order = rng.permutation(len(train))
    users, items = train.user[order], train.item[order]
    negatives = NegativeSampler(train).sample(users, int(num_negatives), rng)  # int64[N, n]
    batch = np.arange(len(order)) // positives_per_batch
    rows = np.concatenate([items[:, None], negatives], axis=1)  # int64[N, 1 + n]
    keys = np.unique(np.repeat(batch, rows.shape[1]) * train.n_items + rows.reshape(-1))
    return np.bincount(keys % train.n_items, minlength=train.n_items).astype(np.float32)


class Pop(ClosedFormRecommender):
    """Scores item ``i`` by its training popularity (the same for every user)."""

    scores_unseen_items = True  # an item absent from training has count 0: ranked last, by definition

    def __init__(
        self, info: DatasetInfo, counting: str = "exact", batch_size: int = 4096, num_negatives: int = 1
    ) -> None:
        super().__init__(info)
        if counting not in COUNTINGS:
            raise ValueError(f"counting must be one of {', '.join(COUNTINGS)}, got {counting!r}")
        if int(batch_size) < 1 or int(num_negatives) < 0:
            raise ValueError("batch_size must be >= 1 and num_negatives >= 0")
        self.counting, self.batch_size, self.num_negatives = counting, int(batch_size), int(num_negatives)
        self.seed = int(torch.initial_seed())  # the run's model seed: the same run counts the same batches
        self.register_buffer("popularity", torch.zeros(self.n_items))

    def fit(self, train: Interactions) -> None:
        if self.counting == "exact":
            counts = np.bincount(train.item, minlength=self.n_items).astype(np.float32)
        else:
            counts = batch_presence_counts(train, self.batch_size, self.num_negatives, np.random.default_rng(self.seed))
        self.popularity = torch.from_numpy(counts)

    def score_all(self, users: Tensor) -> Tensor:
        """``long[B] -> float[B, n_items]``: the popularity row, repeated."""
        return self.popularity.unsqueeze(0).expand(len(users), -1).clone()

    def fold_in(self, items: Tensor) -> Tensor:
        """``long[n] -> float[n_items]``: a new user gets the same popularity row as everyone."""
        return self.popularity.float().clone()
