"""Splitters: functions ``split(data, *, seed, **options) -> Split``.

``random_ratio`` follows RecBole's ratio split exactly (``RO`` order, ``RS`` split): interactions
are shuffled, grouped by user, and each user's rows are cut at counts
``valid = floor(r_v * n)``, ``test = floor(r_t * n)``, ``train = n - valid - test``, where a part
whose share ``r * n`` lies strictly between 0 and 1 gets one row taken from train (while train keeps
more than one row).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recframe.data.interactions import Interactions
from recframe.data.split import Split
from recframe.errors import ConfigError


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


def random_ratio(data: Interactions, ratios: Sequence[float] = (0.8, 0.1, 0.1), group_by: str | None = "user",
                 seed: int = 0) -> Split:
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
    return Split(train=data.subset(order[part == 0]), valid=data.subset(order[part == 1]),
                 test=data.subset(order[part == 2]))
