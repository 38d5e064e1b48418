"""A seeded synthetic dataset for smoke tests and examples: no files needed.

Users and items get latent factors; each user interacts with the items of highest
``<u, v> + noise``, so models that learn preferences beat popularity on it. With Gumbel noise that is
a draw of ``per_user`` distinct items without replacement from ``softmax_i(<u, v_i>)`` (the
Gumbel-top-k trick).

Memory: users are drawn in chunks of about :data:`CHUNK_CELLS` affinities, so nothing of size
``n_users x n_items`` is ever allocated (the output is ``n_users x per_user``). Chunked draws read
the generator's stream in the same order as one whole-matrix draw did, so a seed gives the same
interactions as before chunking. The work stays ``n_users x n_items`` (every affinity is drawn): for
ML-20M-sized and larger logs with power-law popularity use ``benchmarks/scale_data.py`` (its files
load with ``data=table``).
"""

from __future__ import annotations

import numpy as np

from recframe.api import Interactions
from recframe.api import DataSource

#: affinities drawn at once (float64: 32 MiB); a chunk holds at least one user
CHUNK_CELLS = 1 << 22


class SyntheticSource(DataSource):
    """``n_users`` x ``n_items`` with ``per_user`` interactions each, drawn from a low-rank model."""

    files = ()

    def __init__(
        self, path: str = ".", n_users: int = 60, n_items: int = 40, per_user: int = 10, rank: int = 4, seed: int = 0
    ) -> None:
        super().__init__(path, n_users=n_users, n_items=n_items, per_user=per_user, rank=rank, seed=seed)
        if not 0 < per_user < n_items:
            raise ValueError(f"per_user must be between 1 and n_items - 1, got {per_user}")
        self.n_users, self.n_items, self.per_user, self.rank, self.seed = n_users, n_items, per_user, rank, seed

    def load(self) -> Interactions:
        rng = np.random.default_rng(self.seed)
        user_factors = rng.normal(size=(self.n_users, self.rank))  # [n_users, rank]
        item_factors = rng.normal(size=(self.rank, self.n_items))  # [rank, n_items]
        items = np.empty((self.n_users, self.per_user), dtype=np.int64)
        step = max(1, CHUNK_CELLS // self.n_items)
        for start in range(0, self.n_users, step):
            chunk = slice(start, min(self.n_users, start + step))
            affinity = user_factors[chunk] @ item_factors  # [chunk, n_items]
            affinity += rng.gumbel(size=affinity.shape)
            items[chunk] = top_in_order(affinity, self.per_user)
        users = np.repeat(np.arange(self.n_users), self.per_user)
        rating = rng.integers(1, 6, size=users.size).astype(np.float32)
        timestamp = np.arange(users.size, dtype=np.int64)
        return Interactions(
            user=users,
            item=items.reshape(-1),
            n_users=self.n_users,
            n_items=self.n_items,
            rating=rating,
            timestamp=timestamp,
            meta={"source": "synthetic"},
        )


def top_in_order(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of each row's ``k`` largest scores, largest first: ``float[R, n] -> int64[R, k]``
    (a partition then a sort of the ``k``, not a sort of the whole row)."""
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
    return np.take_along_axis(top, order, axis=1)
