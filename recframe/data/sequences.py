"""Users' interactions as time-ordered item sequences, padded into fixed-width arrays.

Sequential models (SASRec, GRU4Rec) read a user's items in time order. Both the training batches
(:mod:`recframe.training.sequences`) and a model's evaluation history come from the helpers here, so
the two can never disagree on order, truncation or padding:

* order: by ``timestamp``, ties kept in row order (the same rule as the time-based splitters);
* truncation: the *latest* ``max_len`` items are kept;
* padding: on the left with :data:`PAD` (``-1``, "no item"), so the latest item is always the last
  column, whatever the sequence length.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recframe.data.interactions import Interactions
from recframe.errors import ConfigError

PAD = -1  # "no item" in padded sequence arrays (item ids are 0..n_items-1)


def concat(parts: Sequence[Interactions]) -> Interactions:
    """The rows of ``parts`` (one id space) in one table: user, item and timestamp (if all have one)."""
    first = parts[0]
    stamps = [p.timestamp for p in parts]
    return Interactions(
        user=np.concatenate([p.user for p in parts]),
        item=np.concatenate([p.item for p in parts]),
        n_users=first.n_users,
        n_items=first.n_items,
        timestamp=None if any(t is None for t in stamps) else np.concatenate(stamps),
        user_ids=first.user_ids,
        item_ids=first.item_ids,
    )


def time_ordered(data: Interactions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(items, starts, counts)``: every user's items in time order, concatenated user by user.

    ``items: int64[N]``; user ``u``'s sequence is ``items[starts[u]:starts[u] + counts[u]]``
    (``starts, counts: int64[n_users]``). A one-line error if the data has no timestamps.
    """
    if data.timestamp is None:
        raise ConfigError(
            "sequential models need time-ordered interactions but this dataset has no timestamps; "
            "use a data source with timestamps or positions (e.g. data=amazon-beauty)"
        )
    order = np.lexsort((np.arange(len(data)), data.timestamp, data.user))
    counts = np.bincount(data.user, minlength=data.n_users).astype(np.int64)
    starts = np.cumsum(counts) - counts
    return data.item[order], starts, counts


def last_items(data: Interactions, max_len: int, drop_last: int = 0) -> np.ndarray:
    """``int64[n_users, max_len]``: each user's latest ``max_len`` items, left-padded with :data:`PAD`.

    With ``drop_last = k`` the user's ``k`` latest items are left out first (``seq[:-k]``), which is
    how the inputs of next-item training are cut (``drop_last=1``). Users with no items are all
    padding.
    """
    if int(max_len) < 1:
        raise ConfigError(f"model.max_len must be >= 1, got {max_len}")
    items, starts, counts = time_ordered(data)
    keep = np.clip(counts - int(drop_last), 0, None)
    return window(items, starts, keep, int(max_len), data.n_users)


def window(
    items: np.ndarray, starts: np.ndarray, lengths: np.ndarray, max_len: int, n_rows: int, shift: int = 0
) -> np.ndarray:
    """``int64[n_rows, max_len]``: row ``r`` holds ``items[starts[r] + shift : starts[r] + shift + lengths[r]]``
    truncated to its last ``max_len`` and left-padded with :data:`PAD`. Vectorised (no loop over rows)."""
    taken = np.minimum(lengths, max_len)
    out = np.full((n_rows, max_len), PAD, dtype=np.int64)
    rows = np.repeat(np.arange(n_rows), taken)
    # column j of row r (right-aligned): source index starts + shift + lengths - taken + (j - (max_len - taken))
    within = np.arange(int(taken.sum())) - np.repeat(np.cumsum(taken) - taken, taken)
    cols = np.repeat(max_len - taken, taken) + within
    src = np.repeat(starts + shift + lengths - taken, taken) + within
    out[rows, cols] = items[src]
    return out
