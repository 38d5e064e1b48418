"""Vectorised negative sampling that never returns a user's own positives.

Membership is tested against the sorted keys ``user * n_items + item`` of the training pairs with
one ``searchsorted``; collisions are redrawn in bulk until none remain. No per-sample Python.
"""

from __future__ import annotations

import numpy as np

from recframe.data.interactions import Interactions


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)`` by one sort (numpy 2's default hash-based unique is ~50x slower here)."""
    s = np.sort(values)
    return s[np.concatenate(([True], s[1:] != s[:-1]))] if s.size else s


class NegativeSampler:
    """Draws items a user has not interacted with, uniformly or by popularity.

    Args:
        train: the training interactions (their pairs are excluded).
        distribution: ``"uniform"`` or ``"popularity"`` (proportional to training count ** alpha).
        alpha: popularity exponent.
    """

    def __init__(self, train: Interactions, distribution: str = "uniform", alpha: float = 1.0) -> None:
        if distribution not in {"uniform", "popularity"}:
            raise ValueError(f"unknown negative distribution '{distribution}' (uniform, popularity)")
        self.n_items = train.n_items
        self.keys = sorted_unique(train.user * self.n_items + train.item)
        self.user_degree = np.bincount(train.user, minlength=train.n_users)
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
        q = users * self.n_items + items
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
