"""Metric base classes.

Ranking metrics are ``torchmetrics.Metric`` subclasses that accumulate a sum of per-user values and a
count, so batched evaluation and multi-process (DDP) evaluation reduce to the same number as one
pass. They read one top-k per batch shared by all cut-offs: ``hits[b, j]`` is true when the item at
rank ``j`` for user ``b`` is relevant, and ``n_relevant[b]`` counts the user's relevant items.
Definitions are in ``docs/metrics.md``.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torchmetrics
from torch import Tensor


class TopKMetric(torchmetrics.Metric):
    """Mean over users of a per-user value computed from the top ``k`` hits.

    Subclasses implement :meth:`per_user`. ``update(hits: bool[B, K], n_relevant: long[B])`` with
    ``K >= k``; users with no relevant item must not be passed.
    """

    full_state_update: ClassVar[bool] = False
    higher_is_better: ClassVar[bool] = True
    name: ClassVar[str] = ""

    def __init__(self, k: int, **kwargs) -> None:
        super().__init__(**kwargs)
        if int(k) < 1:
            raise ValueError(f"cut-off k must be >= 1, got {k}")
        self.k = int(k)
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    @property
    def key(self) -> str:
        return f"{self.name}@{self.k}"

    def per_user(self, hits: Tensor, n_relevant: Tensor) -> Tensor:
        """Per-user values ``float[B]`` from ``hits: bool[B, k]`` and ``n_relevant: long[B]``."""
        raise NotImplementedError

    def user_values(self, hits: Tensor, n_relevant: Tensor) -> Tensor:
        """Per-user values at this metric's cut-off from hits at any ``K >= k``."""
        return self.per_user(hits[:, : self.k], n_relevant)

    def update(self, hits: Tensor, n_relevant: Tensor, values: Tensor | None = None) -> None:  # type: ignore[override]
        """Accumulate a batch; ``values`` may pass :meth:`user_values` already computed."""
        if values is None:
            values = self.user_values(hits, n_relevant)
        self.total += values.double().sum()
        self.count += values.numel()

    def compute(self) -> Tensor:
        return self.total / self.count.clamp_min(1.0)
