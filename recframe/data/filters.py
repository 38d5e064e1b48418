"""Filters applied to a dataset before splitting, in the order the protocol declares them.

Each filter is ``{"name": ..., **options}`` in ``protocol.filters``; the name resolves through the
``filter`` registry, which plugins fill with ``register_filters`` (a filter is a function
``f(data: Interactions, **options) -> Interactions``). The built-in filters are the datasets plugin's
(``recframe_datasets.filters``); ``dedup`` stays here too, as a helper data sources use:

* ``min_rating`` (``threshold``): keep interactions with ``rating >= threshold`` (a NaN rating
  never passes).
* ``dedup`` (``keep``: ``first`` | ``last`` | ``max_rating``): one row per user-item pair; ``first`` /
  ``last`` by timestamp when there is one (ties: file order), else by file order; ``max_rating``
  keeps the highest rating (ties: the earliest row). Kept rows stay in file order.
* ``kcore`` (``user``, ``item``; or ``k`` for both): iteratively drop users and items with fewer
  interactions until every remaining one has enough (RecBole's ``user_inter_num_interval`` /
  ``item_inter_num_interval`` lower bounds; degrees count rows, so duplicates count twice).

The result is compacted (dense ids re-numbered); an empty result is an error naming the filter.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from recframe.data.interactions import Interactions
from recframe.errors import ConfigError, DataError, did_you_mean

log = logging.getLogger(__name__)


def dedup(data: Interactions, keep: str = "first") -> Interactions:
    """One row per user-item pair, chosen by ``keep``."""
    if keep not in {"first", "last", "max_rating"}:
        raise ConfigError(f"protocol.filters: dedup keep='{keep}' is not one of first, last, max_rating")
    if keep == "max_rating" and data.rating is None:
        raise ConfigError("protocol.filters: dedup keep=max_rating needs ratings; use keep=first")
    n = len(data)
    if keep == "max_rating":
        order = np.lexsort((np.arange(n), -data.rating, data.item, data.user))
    else:
        time = data.timestamp if data.timestamp is not None else np.arange(n)
        rank = np.arange(n) if keep == "first" else -np.arange(n)
        order = np.lexsort((rank, time if keep == "first" else -time, data.item, data.user))
    u, i = data.user[order], data.item[order]
    first = np.ones(n, dtype=bool)
    first[1:] = (u[1:] != u[:-1]) | (i[1:] != i[:-1])
    return data.subset(np.sort(order[first]))


def require_rows(data: Interactions, what: str) -> None:
    """Raise a one-line :class:`DataError` when ``what`` (a protocol setting) left no interaction."""
    if len(data) == 0:
        raise DataError(f"{what} removed every interaction; loosen it")


def apply_filters(data: Interactions, filters: list[dict[str, Any]]) -> Interactions:
    """Apply ``filters`` in order and compact the ids."""
    if not filters:
        return data
    from recframe.plugins import registries

    registry = registries().filter
    for n, spec in enumerate(filters):
        if not isinstance(spec, dict):
            raise ConfigError(f"protocol.filters[{n}] must be a mapping like {{name: kcore, k: 10}}, got {spec!r}")
        spec = dict(spec)
        name = spec.pop("name", None)
        if not isinstance(name, str) or name not in registry:
            available = ", ".join(registry.names())
            raise ConfigError(
                f"protocol.filters[{n}].name '{name}' is unknown (available: {available})"
                f"{did_you_mean(str(name), registry.names())}"
            )
        before = len(data)
        try:
            data = registry.get(name)(data, **spec)
        except TypeError as exc:
            raise ConfigError(f"protocol.filters[{n}] ({name}): {exc}") from None
        except ConfigError as exc:  # say which filter of the list is at fault
            raise ConfigError(str(exc).replace("protocol.filters:", f"protocol.filters[{n}]:", 1)) from None
        log.info("filter %s%s: %d -> %d interactions", name, spec or "", before, len(data))
        if len(data) == 0:
            raise DataError(f"protocol.filters[{n}] ({name} {spec}) removed every interaction; loosen it")
    return data.compact()
