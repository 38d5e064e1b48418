"""Tie rules as exact integer sort keys.

A tie rule decides where a relevant item goes among items with the same score. Rather than nudging
scores (which can create new ties), every score is mapped to an order-preserving integer and one
bit is appended that breaks ties between relevant and non-relevant items:

* ``pessimistic``: a relevant item ranks below every non-relevant item with an equal score;
* ``optimistic``: a relevant item ranks above every non-relevant item with an equal score;
* ``ncf``: NCF's rule (He et al. 2017, ``evaluate.py``): duplicate candidates count once, then
  pessimistic (the held-out item is inserted last, and ``heapq.nlargest`` keeps insertion order);
* ``torch.topk``: no rule; equal scores are ordered as ``torch.topk`` returns them (full ranking).

``topk`` over the keys then gives a ranking that is exact under the rule. Definitions are in
``docs/metrics.md``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from recframe.errors import ConfigError

TIE_RULES = ("pessimistic", "optimistic", "ncf", "torch.topk")
MASKED = torch.iinfo(torch.int64).min  # key of items that must never be ranked


def check_ties(rule: str) -> str:
    """Return ``rule`` if known, else raise a one-line :class:`ConfigError`."""
    if rule not in TIE_RULES:
        raise ConfigError(f"protocol.ties must be one of {', '.join(TIE_RULES)}, got {rule!r}")
    return rule


def ordered_int(scores: Tensor) -> Tensor:
    """``float[...] -> int64[...]`` with the same order (``a < b`` iff ``key(a) < key(b)``).

    Scores are rounded to float32 first (the precision ``score_all`` returns); ``-0.0 == 0.0``.
    NaN scores are not allowed.
    """
    bits = (scores.float() + 0.0).view(torch.int32).long()  # + 0.0 turns -0.0 into 0.0
    return torch.where(bits < 0, -(bits & 0x7FFFFFFF) - 1, bits)


def tie_keys(scores: Tensor, relevant: Tensor, rule: str) -> Tensor:
    """Sort keys ``int64[B, L]``: larger ranks first; ties between relevant and other items follow ``rule``.

    ``relevant: bool[B, L]``. Under ``pessimistic``/``ncf`` relevant items get the low bit 0 and the
    others 1; under ``optimistic`` the reverse.
    """
    base = ordered_int(scores) * 2
    if rule == "optimistic":
        return base + relevant.long()
    return base + (~relevant).long()


def dedup_mask(items: Tensor, keep_first: Tensor | None = None) -> Tensor:
    """``bool[B, L]``: true at every repeat of an item id in its row (the first occurrence stays).

    ``items: int64[B, L]`` (``-1`` pads are never reported). Columns are scanned left to right, so
    put the entries that must survive (the held-out items) first.
    """
    order = torch.sort(items, dim=1, stable=True)
    same = torch.zeros_like(items, dtype=torch.bool)
    same[:, 1:] = order.values[:, 1:] == order.values[:, :-1]
    repeat = torch.zeros_like(same)
    repeat.scatter_(1, order.indices, same)
    return repeat & (items >= 0)
