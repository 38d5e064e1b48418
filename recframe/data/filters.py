"""Filters applied to a dataset before splitting, in the order the protocol declares them.

Each filter is ``{"name": ..., **options}`` in ``protocol.filters``:

* ``min_rating`` (``threshold``): keep interactions with ``rating >= threshold``.
* ``dedup`` (``keep``: ``first`` | ``last`` | ``max_rating``): one row per user-item pair; ``first`` /
  ``last`` by timestamp when there is one, else by file order.
* ``kcore`` (``user``, ``item``; or ``k`` for both): iteratively drop users and items with fewer
  interactions until every remaining one has enough.

The result is compacted (dense ids re-numbered); an empty result is an error naming the filter.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from recframe.data.interactions import Interactions
from recframe.errors import ConfigError, DataError

log = logging.getLogger(__name__)


def min_rating(data: Interactions, threshold: float) -> Interactions:
    if data.rating is None:
        raise ConfigError("protocol.filters: min_rating needs ratings, but this dataset has none; remove the filter")
    return data.subset(data.rating >= float(threshold))


def dedup(data: Interactions, keep: str = "first") -> Interactions:
    if keep not in {"first", "last", "max_rating"}:
        raise ConfigError(f"protocol.filters: dedup keep='{keep}' is not one of first, last, max_rating")
    if keep == "max_rating" and data.rating is None:
        raise ConfigError("protocol.filters: dedup keep=max_rating needs ratings; use keep=first")
    n = len(data)
    if keep == "max_rating":
        order = np.lexsort((-data.rating, data.item, data.user))
    else:
        time = data.timestamp if data.timestamp is not None else np.arange(n)
        order = np.lexsort((time if keep == "first" else -time, data.item, data.user))
    u, i = data.user[order], data.item[order]
    first = np.ones(n, dtype=bool)
    first[1:] = (u[1:] != u[:-1]) | (i[1:] != i[:-1])
    return data.subset(np.sort(order[first]))


def kcore(data: Interactions, k: int | None = None, user: int | None = None, item: int | None = None) -> Interactions:
    min_u = int(user if user is not None else (k or 0))
    min_i = int(item if item is not None else (k or 0))
    keep = np.ones(len(data), dtype=bool)
    while True:
        u_deg = np.bincount(data.user[keep], minlength=data.n_users)
        i_deg = np.bincount(data.item[keep], minlength=data.n_items)
        ok = keep & (u_deg[data.user] >= min_u) & (i_deg[data.item] >= min_i)
        if ok.sum() == keep.sum():
            break
        keep = ok
    return data.subset(keep)


FILTERS = {"min_rating": min_rating, "dedup": dedup, "kcore": kcore}


def apply_filters(data: Interactions, filters: list[dict[str, Any]]) -> Interactions:
    """Apply ``filters`` in order and compact the ids."""
    if not filters:
        return data
    for n, spec in enumerate(filters):
        spec = dict(spec)
        name = spec.pop("name", None)
        if name not in FILTERS:
            raise ConfigError(f"protocol.filters[{n}].name '{name}' is unknown (available: {', '.join(FILTERS)})")
        before = len(data)
        try:
            data = FILTERS[name](data, **spec)
        except TypeError as exc:
            raise ConfigError(f"protocol.filters[{n}] ({name}): {exc}") from None
        log.info("filter %s%s: %d -> %d interactions", name, spec or "", before, len(data))
        if len(data) == 0:
            raise DataError(f"protocol.filters[{n}] ({name} {spec}) removed every interaction; loosen it")
    return data.compact()
