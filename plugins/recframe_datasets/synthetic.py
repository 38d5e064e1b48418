"""A seeded synthetic dataset for smoke tests and examples: no files needed.

Users and items get latent factors; each user interacts with the items of highest
``<u, v> + noise``, so models that learn preferences beat popularity on it.
"""

from __future__ import annotations

import numpy as np

from recframe.api import Interactions
from recframe.api import DataSource


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
        affinity = rng.normal(size=(self.n_users, self.rank)) @ rng.normal(size=(self.rank, self.n_items))
        affinity += rng.gumbel(size=affinity.shape)
        items = np.argsort(-affinity, axis=1)[:, : self.per_user]
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
