"""Next-item training batches for sequential models (``batch_kind = "sequence"``).

One row per user, as SASRec (Kang & McAuley, ICDM 2018) and S3-Rec's fine-tuning
(``SASRecDataset``, data type ``train``) build them: the user's training items in time order,
``s_1 .. s_n``; the input is ``s_1 .. s_{n-1}`` and the target at each position is the next item
``s_2 .. s_n``; both keep their latest ``max_len`` positions and are left-padded with ``-1``. Each
target position gets ``num_negatives`` items drawn uniformly from the items the user never
interacted with in training (S3-Rec: one per position). S3-Rec trains on this one sequence per user,
without adding its prefixes as extra rows, and so does this module.

The input and target arrays are built once, vectorised; each epoch only permutes the rows and draws
fresh negatives in bulk, from a generator seeded by (sampler seed, epoch), so a resumed run sees the
same batches. Users with fewer than two training items have no target and no row.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from recframe.data.interactions import Interactions
from recframe.data.sequences import PAD, time_ordered, window
from recframe.training.batches import EpochBatches
from recframe.training.sampling import NegativeSampler


class SequenceBatches(EpochBatches):
    """Batches of ``user: long[B]``, ``seq: long[B, L]``, ``pos_item: long[B, L]``, ``neg_item: long[B, L, n]``.

    ``seq[b, t]`` is an input item (``-1`` padding on the left), ``pos_item[b, t]`` the item that
    followed it (``-1`` where there is no target) and ``neg_item[b, t]`` the negatives of that target
    (``-1`` where there is no target). ``L = max_len``, ``n = num_negatives``.
    """

    def __init__(
        self,
        train: Interactions,
        batch_size: int,
        max_len: int,
        num_negatives: int,
        sampler: NegativeSampler,
        seed: int,
    ) -> None:
        super().__init__(batch_size, seed)
        items, starts, counts = time_ordered(train)
        self.users = np.flatnonzero(counts >= 2)
        lengths = counts[self.users] - 1
        self.seq = window(items, starts[self.users], lengths, int(max_len), len(self.users))
        self.pos = window(items, starts[self.users], lengths, int(max_len), len(self.users), shift=1)
        self.target_rows, self.target_cols = np.nonzero(self.pos != PAD)
        self.num_negatives, self.sampler = int(num_negatives), sampler

    @property
    def n_rows(self) -> int:
        return len(self.users)

    def negatives(self, rng: np.random.Generator) -> np.ndarray:
        """``int64[rows, L, n]``: fresh negatives at every target position, ``-1`` elsewhere."""
        neg = np.full(self.pos.shape + (self.num_negatives,), PAD, dtype=np.int64)
        neg[self.target_rows, self.target_cols] = self.sampler.sample(
            self.users[self.target_rows], self.num_negatives, rng
        )
        return neg

    def draw_epoch(self) -> Iterator[dict[str, torch.Tensor]]:
        rng = self.epoch_rng()
        neg = self.negatives(rng)
        order = rng.permutation(len(self.users))
        for sl in self.batch_slices(len(order)):
            rows = order[sl]
            yield {
                "user": torch.from_numpy(self.users[rows]),
                "seq": torch.from_numpy(self.seq[rows]),
                "pos_item": torch.from_numpy(self.pos[rows]),
                "neg_item": torch.from_numpy(neg[rows]),
            }
