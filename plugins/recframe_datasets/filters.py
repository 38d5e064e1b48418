"""The built-in dataset filters, registered through ``register_filters``: ``min_rating``, ``dedup``, ``kcore``.

* ``min_rating`` (``threshold``): keep interactions with ``rating >= threshold`` (a NaN rating
  never passes).
* ``dedup`` (``keep``: ``first`` | ``last`` | ``max_rating``): one row per user-item pair (the core
  helper ``recframe.api.dedup``).
* ``kcore`` (``user``, ``item``; or ``k`` for both): iteratively drop users and items with fewer
  interactions until every remaining one has enough (RecBole's ``user_inter_num_interval`` /
  ``item_inter_num_interval`` lower bounds; degrees count rows, so duplicates count twice).

A filter raises ``ConfigError("protocol.filters: ...")``; the core names the list position.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recframe.api import ConfigError, Interactions, dedup

__all__ = ["dedup", "kcore", "min_rating"]


def _number(name: str, value: Any, *, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ConfigError(f"protocol.filters: {name} must be a number, got {value!r}")
    if integer and (float(value) != int(value) or value < 0):
        raise ConfigError(f"protocol.filters: {name} must be an integer >= 0, got {value!r}")
    return float(value)


def min_rating(data: Interactions, threshold: float) -> Interactions:
    """Rows with ``rating >= threshold``."""
    threshold = _number("min_rating threshold", threshold)
    if data.rating is None:
        raise ConfigError("protocol.filters: min_rating needs ratings, but this dataset has none; remove the filter")
    return data.subset(data.rating >= float(threshold))


def kcore(data: Interactions, k: int | None = None, user: int | None = None, item: int | None = None) -> Interactions:
    """Rows left once every user has ``>= user`` and every item ``>= item`` rows (iterated to a fixed point)."""
    if k is None and user is None and item is None:  # would keep every row while recorded as applied
        raise ConfigError("protocol.filters: kcore needs k (or user and/or item), e.g. {name: kcore, k: 10}")
    min_u = int(_number("kcore user", user if user is not None else (k or 0), integer=True))
    min_i = int(_number("kcore item", item if item is not None else (k or 0), integer=True))
    keep = np.ones(len(data), dtype=bool)
    while True:
        u_deg = np.bincount(data.user[keep], minlength=data.n_users)
        i_deg = np.bincount(data.item[keep], minlength=data.n_items)
        ok = keep & (u_deg[data.user] >= min_u) & (i_deg[data.item] >= min_i)
        if ok.sum() == keep.sum():
            break
        keep = ok
    return data.subset(keep)
