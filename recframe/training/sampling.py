"""Vectorised negative sampling that never returns a user's own positives.

Membership is tested against the training pairs' keys ``user * n_items + item``: with a packed
bitmap of all ``n_users * n_items`` cells when that is small (up to 2**27 cells, 16 MiB; e.g. ML-1M
is 22M cells, 2.8 MiB), which is ~7x faster, else by a search inside the user's own run of the
sorted keys (compiled, :mod:`recframe.kernels.membership`; one ``searchsorted`` over all keys
without numba).
Collisions are redrawn in bulk until none remain. No per-sample Python.
"""

from __future__ import annotations

import numpy as np

from recframe import kernels
from recframe.data.interactions import Interactions


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)`` by one sort (numpy 2's default hash-based unique is ~50x slower here)."""
    s = np.sort(values)
    return s[np.concatenate(([True], s[1:] != s[:-1]))] if s.size else s


BITMAP_MAX_CELLS = 1 << 27


#: Negative-sampling distributions (``trainer.negative_sampling``).
DISTRIBUTIONS = ("uniform", "popularity")


class NegativeSampler:
    """Draws items a user has not interacted with, uniformly or by popularity.

    Args:
        train: the training interactions (their pairs are excluded).
        distribution: ``"uniform"`` or ``"popularity"`` (proportional to training count ** alpha).
        alpha: popularity exponent.
    """

    def __init__(self, train: Interactions, distribution: str = "uniform", alpha: float = 1.0) -> None:
        if distribution not in DISTRIBUTIONS:
            raise ValueError(f"unknown negative distribution '{distribution}' (uniform, popularity)")
        self.n_items = train.n_items
        self.keys = sorted_unique(train.user * self.n_items + train.item)
        self.bits: np.ndarray | None = None  # packed bitmap of positive cells, when small enough
        cells = int(train.n_users) * int(self.n_items)
        if 0 < cells <= BITMAP_MAX_CELLS:
            mask = np.zeros(cells, dtype=bool)
            mask[self.keys] = True
            self.bits = np.packbits(mask)
        self.user_degree = np.bincount(train.user, minlength=train.n_users)
        # user u's keys are keys[starts[u]:starts[u + 1]] (the per-row search of large data)
        self.starts = np.searchsorted(self.keys, np.arange(train.n_users + 1, dtype=np.int64) * self.n_items)
        self.distribution = distribution
        if distribution == "popularity":
            w = np.bincount(train.item, minlength=self.n_items).astype(np.float64) ** alpha
            self.cdf = np.cumsum(w / w.sum())
        if np.any(self.user_degree >= self.n_items):
            raise ValueError("a user has interacted with every item; no negative can be sampled for them")

    def _draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        if self.distribution == "uniform":
            return rng.integers(0, self.n_items, size=size)
        return np.minimum(np.searchsorted(self.cdf, rng.random(size)), self.n_items - 1)

    def is_positive(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        q = users * self.n_items + items
        if self.bits is not None:
            return ((self.bits[q >> 3] >> (7 - (q & 7))) & 1).astype(bool)
        if kernels.available() and len(q) > 0:
            from recframe.kernels.membership import row_membership

            out = np.empty(len(q), dtype=bool)
            row_membership(self.keys, self.starts, self.n_items, users, np.asarray(items, np.int64), out)
            return out
        pos = np.searchsorted(self.keys, q)
        pos = np.minimum(pos, len(self.keys) - 1)
        return self.keys[pos] == q

    def sample(self, users: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        """``int64[len(users), n]`` negatives for each user."""
        flat_users = np.repeat(users, n)
        items = self._draw(rng, flat_users.size)
        bad = np.flatnonzero(self.is_positive(flat_users, items))
        while bad.size:
            items[bad] = self._draw(rng, bad.size)
            bad = bad[self.is_positive(flat_users[bad], items[bad])]
        return items.reshape(len(users), n)
