"""External recommendation lists: reading ``user,item[,rank|score]`` files against a run's id space.

A lists file (CSV with a header; Elliot's "proxy recommender" input, or any tool's top-k output) holds
one row per recommended item. Its order within a user is the ``rank`` column (1 = first) when present,
else the ``score`` column (higher first; equal scores are ties, ordered by the protocol's tie rule), else
the file's row order. The rules, checked with one-line errors naming the file, line and column:

* ``user`` and ``item`` columns are required and non-empty; ``rank`` / ``score`` must be numbers;
* a user-item pair may appear once (a repeat names both lines);
* an id the data does not know (after the protocol's filters) is an error naming its line, unless
  ``unknown="drop"``: then such rows are dropped and counted (``Recs.counts``).

:func:`read_recs` returns the rows in dense ids with an order value per row (larger ranks first);
:func:`order_levels` turns those into positive per-user levels that keep ties, the scores a list model
(``model=precomputed``) gives its listed items. Users without a list and lists shorter than the largest
cut-off are counted by :func:`list_counts`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recframe.data.readers import numeric_column, parser_error_message
from recframe.errors import ConfigError, DataError

UNKNOWN = ("error", "drop")


@dataclass
class Recs:
    """Lists in dense ids: row ``r`` recommends ``item[r]`` to ``user[r]`` with order value ``value[r]``
    (larger first). ``line[r]`` is its file line; ``counts`` holds ``rows`` and the dropped unknown rows."""

    user: np.ndarray  # int64[N]
    item: np.ndarray  # int64[N]
    value: np.ndarray  # float64[N]
    line: np.ndarray  # int64[N]
    order: str  # "rank", "score" or "file"
    counts: dict[str, int] = field(default_factory=dict)

    def matrix(self, n_users: int, n_items: int) -> sp.csr_matrix:
        """``float32[n_users, n_items]`` CSR of :func:`order_levels` (0 where nothing is listed)."""
        levels = order_levels(self.user, self.value)
        return sp.csr_matrix((levels.astype(np.float32), (self.user, self.item)), shape=(n_users, n_items))


def order_levels(user: np.ndarray, value: np.ndarray) -> np.ndarray:
    """``float64[N]`` levels ``1..L_u`` per user: the user's distinct order values ranked ascending,
    so the first item of a list has the highest level and equal values share one (ties stay ties)."""
    order = np.lexsort((value, user))
    u, v = user[order], value[order]
    new_user = np.r_[True, u[1:] != u[:-1]]
    new_level = new_user | np.r_[True, v[1:] != v[:-1]]
    counter = np.cumsum(new_level)
    start = np.maximum.accumulate(np.where(new_user, counter, 0))
    levels = np.empty(len(order), dtype=np.float64)
    levels[order] = counter - start + 1
    return levels


def dense_lookup(raw_ids: np.ndarray, values: pd.Series) -> np.ndarray:
    """``int64[N]`` dense id of each raw id text in ``values`` (``-1`` when the data has no such id)."""
    text = values.str.strip()
    if raw_ids.dtype.kind in "iu":
        as_int = pd.to_numeric(text, errors="coerce")
        canonical = as_int.notna() & (as_int.astype("Int64").astype(str) == text)
        keys = np.where(canonical, as_int.fillna(-(2**62)).astype(np.int64), -(2**62))
        found = pd.Index(raw_ids).get_indexer(keys)
        return np.where(canonical, found, -1).astype(np.int64)
    return pd.Index(raw_ids.astype(str)).get_indexer(text.to_numpy(dtype=str)).astype(np.int64)


def read_recs(path: str | Path, user_ids: np.ndarray, item_ids: np.ndarray, unknown: str = "error") -> Recs:
    """Read a lists file (see the module docstring) against the raw ids ``user_ids[d]`` / ``item_ids[d]``."""
    path = Path(path).expanduser()
    if unknown not in UNKNOWN:
        raise ConfigError(f"unknown ids: the policy must be one of {', '.join(UNKNOWN)}, got {unknown!r}")
    if not path.is_file():
        raise DataError(f"{path}: recommendation lists not found; give a CSV with columns user,item[,rank|score]")
    try:
        frame = pd.read_csv(
            path,
            dtype=str,
            engine="c",
            on_bad_lines="error",
            keep_default_na=False,
            na_values=[""],
            skip_blank_lines=True,
        )
    except pd.errors.EmptyDataError:
        raise DataError(
            f"{path} is empty; give a header user,item[,rank|score] and one row per recommendation"
        ) from None
    except pd.errors.ParserError as exc:
        raise DataError(parser_error_message(path, exc, ",")) from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not valid utf-8 text ({exc.reason})") from None
    have = [str(c).strip() for c in frame.columns]
    frame.columns = have
    for col in ("user", "item"):
        if col not in have:
            raise DataError(
                f"{path}, line 1: no {col!r} column (columns: {', '.join(have[:12])}); the header must name user,item"
            )
    if not len(frame):
        raise DataError(f"{path} has no rows under its header")
    lines = np.arange(len(frame), dtype=np.int64) + 2
    for col in ("user", "item"):
        empty = frame[col].isna().to_numpy()
        if empty.any():
            raise DataError(f"{path}, line {int(lines[np.flatnonzero(empty)[0]])}, column {col}: empty")
    order = "rank" if "rank" in have else "score" if "score" in have else "file"
    if order == "file":
        value = -np.arange(len(frame), dtype=np.float64)
    else:
        numbers = numeric_column(frame[order], path, order, lines=lines)
        bad = ~np.isfinite(numbers)
        if bad.any():
            raise DataError(f"{path}, line {int(lines[np.flatnonzero(bad)[0]])}, column {order}: not a finite number")
        value = -numbers if order == "rank" else numbers
    user, item = dense_lookup(user_ids, frame["user"]), dense_lookup(item_ids, frame["item"])
    counts = {
        "rows": len(frame),
        "unknown_user_rows": int((user < 0).sum()),
        "unknown_item_rows": int((item < 0).sum()),
    }
    missing = (user < 0) | (item < 0)
    if missing.any() and unknown == "error":
        row = int(np.flatnonzero(missing)[0])
        col = "user" if user[row] < 0 else "item"
        raise DataError(
            f"{path}, line {int(lines[row])}, column {col}: {col} {frame[col].iloc[row]!r} is not in the data "
            f"(after the protocol's filters); fix the id or drop unknown rows (--unknown drop, model.unknown=drop)"
        )
    keep = ~missing
    user, item, value, lines = user[keep], item[keep], value[keep], lines[keep]
    key = user * len(item_ids) + item
    order_key = np.argsort(key, kind="stable")
    repeat = np.r_[False, key[order_key][1:] == key[order_key][:-1]]
    if repeat.any():
        second = order_key[np.flatnonzero(repeat)[0]]
        first = order_key[np.flatnonzero(repeat)[0] - 1]
        raise DataError(
            f"{path}, line {int(lines[second])}: user {frame['user'].iloc[lines[second] - 2]!r} item "
            f"{frame['item'].iloc[lines[second] - 2]!r} is listed twice (first on line {int(lines[first])}); "
            f"a list names each item once"
        )
    return Recs(user, item, value.astype(np.float64), lines, order, counts)


def list_counts(recs: Recs, users: np.ndarray, seen: sp.csr_matrix | None, k: int) -> dict[str, Any]:
    """Declared counts for the evaluated ``users`` (``int64[n]``): without a list, and with fewer than
    ``k`` listed items left once the protocol's masked items (``seen``, or none) are taken out."""
    n_users = int(max(users.max(initial=-1), recs.user.max(initial=-1)) + 1)
    listed = np.ones(len(recs.user), dtype=bool)
    if seen is not None and len(recs.user):
        seen = seen.tocsr()
        inside = recs.user < seen.shape[0]
        listed[inside] = ~np.asarray(seen[recs.user[inside], recs.item[inside]]).ravel().astype(bool)
    per_user = np.bincount(recs.user[listed], minlength=n_users)[users]
    any_list = np.bincount(recs.user, minlength=n_users)[users] > 0
    return {
        "evaluated_users": int(len(users)),
        "users_without_list": int((~any_list).sum()),
        f"lists_shorter_than_{k}_after_masking": int((any_list & (per_user < k)).sum()),
        "masked_rows": int((~listed).sum()),
    }
