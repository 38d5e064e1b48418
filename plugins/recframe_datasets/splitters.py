"""Splitters: functions ``split(data, *, seed, **options) -> Split``.

``random_ratio`` follows RecBole's ratio split exactly (``RO`` order, ``RS`` split): interactions
are shuffled, grouped by user, and each user's rows are cut at counts
``valid = floor(r_v * n)``, ``test = floor(r_t * n)``, ``train = n - valid - test``, where a part
whose share ``r * n`` lies strictly between 0 and 1 gets one row taken from train (while train keeps
more than one row).

The others (exact rules in each docstring and in ``docs/data.md``): ``temporal_ratio`` (the same
counts on time-sorted rows, per user or global), ``leave_last_k`` / ``leave_one_out`` (last rows
per user, by time or shuffled), ``predefined`` (the source's ``split_labels``, validation carved
from train by a declared rule) and ``cold_items`` (items, not rows, are split).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recframe.api import Interactions
from recframe.api import Split
from recframe.api import ConfigError


def ratio_counts(totals: np.ndarray, ratios: Sequence[float]) -> np.ndarray:
    """``int64[len(totals), len(ratios)]`` rows per part for groups of ``totals`` rows (RecBole's rule)."""
    ratios = np.asarray(ratios, dtype=np.float64) / float(np.sum(ratios))
    totals = np.asarray(totals, dtype=np.int64)
    cnt = np.stack([(r * totals).astype(np.int64) for r in ratios], axis=1)
    cnt[:, 0] = totals - cnt[:, 1:].sum(axis=1)
    for i in range(1, len(ratios)):
        share = ratios[-i] * totals
        bump = (cnt[:, 0] > 1) & (share > 0) & (share < 1)
        cnt[bump, -i] += 1
        cnt[bump, 0] -= 1
    return cnt


def random_ratio(
    data: Interactions, ratios: Sequence[float] = (0.8, 0.1, 0.1), group_by: str | None = "user", seed: int = 0
) -> Split:
    """Random split by ratio, per user (``group_by: user``) or over all rows (``group_by: null``)."""
    if len(ratios) != 3:
        raise ConfigError(f"protocol.split.ratios needs three parts (train, valid, test), got {list(ratios)}")
    if group_by not in ("user", None):
        raise ConfigError(f"protocol.split.group_by must be 'user' or null, got {group_by!r}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(data))
    if group_by == "user":
        order = order[np.argsort(data.user[order], kind="stable")]
        totals = np.bincount(data.user, minlength=data.n_users)
    else:
        totals = np.array([len(data)])
    cnt = ratio_counts(totals, ratios)
    starts = np.repeat(np.cumsum(totals) - totals, totals)
    pos = np.arange(len(order)) - starts
    train_end = np.repeat(cnt[:, 0], totals)
    valid_end = train_end + np.repeat(cnt[:, 1], totals)
    part = np.where(pos < train_end, 0, np.where(pos < valid_end, 1, 2))
    return Split(
        train=data.subset(order[part == 0]),
        valid=data.subset(order[part == 1]),
        test=data.subset(order[part == 2]),
        candidates=data.candidates,
    )


def _time_order(data: Interactions, order: str, rng: np.random.Generator) -> np.ndarray:
    """Row indices grouped by user; within a user by time (ties: file order) or shuffled."""
    if order == "time":
        if data.timestamp is None:
            raise ConfigError(
                "protocol.split.order 'time' needs timestamps, but this dataset has none; use order: random"
            )
        return np.lexsort((np.arange(len(data)), data.timestamp, data.user))
    if order == "random":
        perm = rng.permutation(len(data))
        return perm[np.argsort(data.user[perm], kind="stable")]
    raise ConfigError(f"protocol.split.order must be 'time' or 'random', got {order!r}")


def _from_parts(data: Interactions, order: np.ndarray, part: np.ndarray) -> Split:
    """A :class:`Split` from row ``order`` and its ``part`` labels (0 train, 1 valid, 2 test).

    Fixed candidates the source ships (``data.candidates``) ride along for sampled evaluation.
    """
    return Split(
        train=data.subset(order[part == 0]),
        valid=data.subset(order[part == 1]),
        test=data.subset(order[part == 2]),
        candidates=data.candidates,
    )


def _cut(totals: np.ndarray, cnt: np.ndarray) -> np.ndarray:
    """Part labels (``int8``) for rows grouped in blocks of ``totals``, the first ``cnt[:, 0]`` of a
    block train, the next ``cnt[:, 1]`` valid, the rest test."""
    starts = np.repeat(np.cumsum(totals) - totals, totals)
    pos = np.arange(int(totals.sum())) - starts
    train_end = np.repeat(cnt[:, 0], totals)
    valid_end = train_end + np.repeat(cnt[:, 1], totals)
    return np.where(pos < train_end, 0, np.where(pos < valid_end, 1, 2)).astype(np.int8)


def temporal_ratio(
    data: Interactions, ratios: Sequence[float] = (0.8, 0.1, 0.1), group_by: str | None = "user", seed: int = 0
) -> Split:
    """Chronological split by ratio (RecBole ``TO`` order + ``RS`` split).

    ``group_by: user``: each user's rows sorted by timestamp (ties keep file order) and cut with
    :func:`ratio_counts`, so a user's earliest rows train and latest test. ``group_by: null``: all
    rows sorted by time and cut once (a global time cutoff; a user may be entirely in test).
    ``seed`` is unused (the split is deterministic).
    """
    if len(ratios) != 3:
        raise ConfigError(f"protocol.split.ratios needs three parts (train, valid, test), got {list(ratios)}")
    if group_by not in ("user", None):
        raise ConfigError(f"protocol.split.group_by must be 'user' or null, got {group_by!r}")
    if data.timestamp is None:
        raise ConfigError("protocol.split temporal_ratio needs timestamps, but this dataset has none; use random_ratio")
    if group_by == "user":
        order = np.lexsort((np.arange(len(data)), data.timestamp, data.user))
        totals = np.bincount(data.user, minlength=data.n_users)
    else:
        order = np.lexsort((np.arange(len(data)), data.timestamp))
        totals = np.array([len(data)])
    return _from_parts(data, order, _cut(totals, ratio_counts(totals, ratios)))


def leave_last_k(data: Interactions, k: int = 1, valid_k: int = 1, order: str = "time", seed: int = 0) -> Split:
    """Per user, the last ``k`` rows test and the ``valid_k`` before them validation.

    "Last" is by timestamp (``order: time``, ties keep file order) or after a seeded shuffle
    (``order: random``). Every user keeps at least one training row: a user with ``n`` rows gets
    ``t = min(k, n - 1)`` test rows and ``min(valid_k, n - 1 - t)`` validation rows, so users with a
    single row are train-only and users with two rows have no validation row.
    """
    if int(k) < 1 or int(valid_k) < 0:
        raise ConfigError(f"protocol.split needs k >= 1 and valid_k >= 0, got k={k}, valid_k={valid_k}")
    rows = _time_order(data, order, np.random.default_rng(seed))
    totals = np.bincount(data.user, minlength=data.n_users)
    test = np.minimum(int(k), np.maximum(totals - 1, 0))
    valid = np.minimum(int(valid_k), np.maximum(totals - 1 - test, 0))
    cnt = np.stack([totals - valid - test, valid, test], axis=1)
    return _from_parts(data, rows, _cut(totals, cnt))


def leave_one_out(data: Interactions, order: str = "time", seed: int = 0) -> Split:
    """Per user, the last row test and the one before it validation (``leave_last_k`` with k = 1).

    ``order: time`` (default) is the SASRec/S3-Rec/BERT4Rec protocol; ``order: random`` holds out
    two random rows per user (NCF-style when the seed is fixed).
    """
    return leave_last_k(data, k=1, valid_k=1, order=order, seed=seed)


def predefined(data: Interactions, valid: str = "none", valid_ratio: float = 0.1, seed: int = 0) -> Split:
    """The split the source shipped (``split_labels``: 0 train, 1 valid, 2 test).

    When the source gives only train and test, validation is carved from train by the declared rule:

    * ``valid: none``: no validation rows (the validation part is empty);
    * ``valid: random``: per user, a random ``valid_ratio`` share of the train rows, counted with
      RecBole's ratio rule (:func:`ratio_counts` on ``[1 - valid_ratio, valid_ratio]``; a user keeps
      at least one train row);
    * ``valid: last``: the same counts, taking each user's latest train rows (needs timestamps).

    If the source already labels validation rows, ``valid`` must be ``none``.
    """
    if data.split_labels is None:
        raise ConfigError(
            "protocol.split predefined needs a dataset with a shipped split (split_labels); this "
            "one has none: use random_ratio, temporal_ratio or leave_one_out"
        )
    if valid not in ("none", "random", "last"):
        raise ConfigError(f"protocol.split.valid must be none, random or last, got {valid!r}")
    labels = data.split_labels.astype(np.int8).copy()
    if valid != "none":
        if (labels == 1).any():
            raise ConfigError("protocol.split.valid: the dataset already ships validation rows; set valid: none")
        if not 0.0 < float(valid_ratio) < 1.0:
            raise ConfigError(f"protocol.split.valid_ratio must be in (0, 1), got {valid_ratio}")
        train_rows = np.flatnonzero(labels == 0)
        sub = data.subset(train_rows)
        rows = _time_order(sub, "time" if valid == "last" else "random", np.random.default_rng(seed))
        totals = np.bincount(sub.user, minlength=data.n_users)
        cnt = ratio_counts(totals, [1.0 - float(valid_ratio), float(valid_ratio)])
        part = _cut(totals, np.concatenate([cnt, np.zeros((len(cnt), 1), np.int64)], axis=1))
        labels[train_rows[rows[part == 1]]] = 1
    order = np.arange(len(data))
    return _from_parts(data, order, labels)


def cold_items(data: Interactions, ratios: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0) -> Split:
    """Item cold start: items (not rows) are shuffled and cut by ``ratios`` with :func:`ratio_counts`.

    Every interaction of a validation item goes to validation and of a test item to test; no
    held-out item ever appears in train. Only items with interactions are shuffled.
    """
    if len(ratios) != 3:
        raise ConfigError(f"protocol.split.ratios needs three parts (train, valid, test), got {list(ratios)}")
    rng = np.random.default_rng(seed)
    present = np.flatnonzero(np.bincount(data.item, minlength=data.n_items))
    shuffled = present[rng.permutation(len(present))]
    item_part = np.zeros(data.n_items, dtype=np.int8)
    item_part[shuffled] = _cut(np.array([len(present)]), ratio_counts(np.array([len(present)]), ratios))
    return _from_parts(data, np.arange(len(data)), item_part[data.item])
