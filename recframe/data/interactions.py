"""The in-memory data model every data source produces and every model consumes.

An :class:`Interactions` table holds user-item events with dense integer ids (``0..n_users-1``,
``0..n_items-1``); the original ids are kept in ``user_ids`` / ``item_ids`` so results can be mapped
back. Optional side information (user and item feature tables, item text) and a predefined split
(``split_labels``) or fixed evaluation candidates ride along in the same object.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

TRAIN, VALID, TEST = 0, 1, 2
SPLIT_NAMES = {TRAIN: "train", VALID: "valid", TEST: "test"}


def dense_ids(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(sorted unique raw ids, int64 dense id of each value)``, as ``np.unique(return_inverse=True)``.

    Integer ids spanning a modest range (the usual case) take an O(n) lookup table instead of a sort.
    """
    raw = raw.ravel()
    if raw.dtype.kind in "iu" and raw.size:
        lo, hi = int(raw.min()), int(raw.max())
        if hi - lo <= 4 * raw.size + 1_000_000:
            present = np.zeros(hi - lo + 1, dtype=bool)
            present[raw - lo] = True
            table = np.cumsum(present, dtype=np.int64) - 1
            return (np.flatnonzero(present) + lo).astype(raw.dtype), table[raw - lo]
    uniq, inverse = np.unique(raw, return_inverse=True)
    return uniq, inverse.ravel().astype(np.int64)


@dataclass
class Interactions:
    """User-item events with dense ids.

    Attributes:
        user: ``int64[N]`` dense user ids.
        item: ``int64[N]`` dense item ids.
        rating: ``float32[N]`` explicit ratings, or ``None`` for implicit data.
        timestamp: ``int64[N]`` event times (seconds), or ``None``.
        n_users, n_items: sizes of the id spaces (may exceed the ids present in a subset).
        user_ids, item_ids: original ids; ``user_ids[d]`` is the raw id of dense user ``d``.
        user_features, item_features: optional tables indexed by dense id.
        split_labels: optional ``int8[N]`` predefined split (0 train, 1 valid, 2 test).
        candidates: optional ``int64[n_users, C]`` fixed negatives for sampled evaluation
            (``-1`` pads users with fewer).
        meta: free-form provenance (source name, files).
    """

    user: np.ndarray
    item: np.ndarray
    n_users: int
    n_items: int
    rating: np.ndarray | None = None
    timestamp: np.ndarray | None = None
    user_ids: np.ndarray | None = None
    item_ids: np.ndarray | None = None
    user_features: pd.DataFrame | None = None
    item_features: pd.DataFrame | None = None
    split_labels: np.ndarray | None = None
    candidates: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.user = np.asarray(self.user, dtype=np.int64)
        self.item = np.asarray(self.item, dtype=np.int64)
        if self.user_ids is None:
            self.user_ids = np.arange(self.n_users)
        if self.item_ids is None:
            self.item_ids = np.arange(self.n_items)

    def __len__(self) -> int:
        return int(self.user.shape[0])

    @classmethod
    def from_raw(
        cls, users: Any, items: Any, rating: Any = None, timestamp: Any = None, **extra: Any
    ) -> "Interactions":
        """Build from raw ids of any hashable type, remapping them to dense ids (sorted order)."""
        user_ids, user = dense_ids(np.asarray(users))
        item_ids, item = dense_ids(np.asarray(items))
        return cls(
            user=user,
            item=item,
            n_users=len(user_ids),
            n_items=len(item_ids),
            rating=None if rating is None else np.asarray(rating, dtype=np.float32),
            timestamp=None if timestamp is None else np.asarray(timestamp, dtype=np.int64),
            user_ids=user_ids,
            item_ids=item_ids,
            **extra,
        )

    def _take(self, arr: np.ndarray | None, index: np.ndarray) -> np.ndarray | None:
        return None if arr is None else arr[index]

    def subset(self, index: np.ndarray) -> "Interactions":
        """Rows selected by a boolean mask or an index array, in the same id space."""
        return replace(
            self,
            user=self.user[index],
            item=self.item[index],
            rating=self._take(self.rating, index),
            timestamp=self._take(self.timestamp, index),
            split_labels=self._take(self.split_labels, index),
        )

    def compact(self) -> "Interactions":
        """Re-number users and items so that only those present remain (after filtering)."""
        users, user = np.unique(self.user, return_inverse=True)
        items, item = np.unique(self.item, return_inverse=True)
        cands = None
        if self.candidates is not None:
            item_map = np.full(self.n_items, -1, dtype=np.int64)
            item_map[items] = np.arange(len(items))
            c = self.candidates[users]
            cands = np.where(c >= 0, item_map[np.clip(c, 0, None)], -1)
        return replace(
            self,
            user=user,
            item=item,
            n_users=len(users),
            n_items=len(items),
            user_ids=self.user_ids[users],
            item_ids=self.item_ids[items],
            user_features=None if self.user_features is None else self.user_features.iloc[users].reset_index(drop=True),
            item_features=None if self.item_features is None else self.item_features.iloc[items].reset_index(drop=True),
            candidates=cands,
        )

    def to_csr(self, values: np.ndarray | None = None) -> sp.csr_matrix:
        """A ``n_users x n_items`` sparse matrix (ones unless ``values`` given; duplicates summed)."""
        data = np.ones(len(self), dtype=np.float32) if values is None else values.astype(np.float32)
        m = sp.csr_matrix((data, (self.user, self.item)), shape=(self.n_users, self.n_items))
        m.sum_duplicates()
        return m

    def counts(self) -> dict[str, int]:
        return {"users": int(self.n_users), "items": int(self.n_items), "interactions": len(self)}
