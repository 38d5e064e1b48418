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


FAMILIES = ("topk", "list", "score", "pointwise")
#: Families built once per cut-off, as ``cls(k=k, ...)``; the others are built once, without ``k``.
CUTOFF_FAMILIES = ("topk", "list")
#: What a metric may ask to be given at construction, by naming it in its ``requires`` class
#: attribute: the training interactions (``train``: :class:`~recframe.data.interactions.Interactions`),
#: ``item_popularity`` (``int64[n_items]``, training interactions per item), ``n_users``, ``n_items``.
METRIC_INPUTS = ("train", "item_popularity", "n_users", "n_items")


class TopKMetric(torchmetrics.Metric):
    """Mean over users of a per-user value computed from the top ``k`` hits.

    Subclasses implement :meth:`per_user`. ``update(hits: bool[B, K], n_relevant: long[B])`` with
    ``K >= k``; users with no relevant item must not be passed.

    ``family`` tells the evaluator what a metric reads: ``topk`` (hits, this class), ``list`` (the
    recommended item ids, :class:`ListMetric`), ``score`` (the scores of relevant and
    other items, no cut-off, :class:`ScoreMetric`) or ``pointwise`` (scores of labelled pairs,
    :mod:`recframe.evaluation.pointwise`).
    """

    #: What the evaluator feeds the metric: ``topk``, ``list``, ``score`` or ``pointwise`` (above).
    family: ClassVar[str] = "topk"
    full_state_update: ClassVar[bool] = False
    higher_is_better: ClassVar[bool] = True
    #: The result key's stem (``ndcg`` in ``test/ndcg@10``). recframe sets it on each instance to
    #: the name the metric was registered under, so a class need not set it.
    name: str = ""
    #: True: the metric is a mean of per-user values, saved in ``per_user.npz``.
    per_user_mean: ClassVar[bool] = True
    #: Inputs (from :data:`METRIC_INPUTS`) passed to the constructor as keyword arguments.
    requires: ClassVar[tuple[str, ...]] = ()
    k: int  #: the cut-off, set by the constructor

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


class ListMetric(torchmetrics.Metric):
    """A beyond-accuracy metric of the recommended top-``k`` lists (coverage, novelty, ...).

    Built with the training popularity ``item_popularity: int64[n_items]`` and ``n_users``;
    ``update(top_items: long[B, K])`` with ``K >= k`` and ``-1`` padding (padded entries are
    ignored). Two kinds of state, both sums: per-user means (``total``/``count``) and a
    recommendation count per item (``counts: float64[n_items]``); either reduces exactly over
    batches and processes.
    """

    family: ClassVar[str] = "list"
    full_state_update: ClassVar[bool] = False
    higher_is_better: ClassVar[bool] = True
    name: str = ""
    per_user_mean: ClassVar[bool] = True  # False: computed from the per-item counts
    requires: ClassVar[tuple[str, ...]] = ("item_popularity", "n_users")
    k: int  #: the cut-off, set by the constructor

    def __init__(self, k: int, item_popularity, n_users: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        if int(k) < 1:
            raise ValueError(f"cut-off k must be >= 1, got {k}")
        self.k = int(k)
        pop = torch.as_tensor(item_popularity, dtype=torch.float64)
        self.n_items = int(pop.numel())
        self.n_users = int(n_users) if n_users is not None else None
        self.register_buffer("popularity", pop, persistent=False)
        if self.per_user_mean:
            self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state("count", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        else:
            self.add_state("counts", default=torch.zeros(self.n_items, dtype=torch.float64), dist_reduce_fx="sum")

    @property
    def key(self) -> str:
        return f"{self.name}@{self.k}"

    def item_values(self) -> Tensor:
        """``float64[n_items]`` per-item value averaged over each list (per-user-mean metrics)."""
        raise NotImplementedError

    def user_values(self, top_items: Tensor) -> Tensor:
        """``float64[B]``: mean item value over each user's top-k (NaN for an empty list)."""
        top = top_items[:, : self.k]
        valid = top >= 0
        vals = self.item_values().to(top.device)[top.clamp_min(0)]
        return torch.where(valid, vals, 0.0).sum(dim=1) / valid.sum(dim=1).double()

    def update(self, top_items: Tensor, values: Tensor | None = None) -> None:  # type: ignore[override]
        top = top_items[:, : self.k]
        if self.per_user_mean:
            if values is None:
                values = self.user_values(top)
            values = values[~torch.isnan(values)]
            self.total += values.sum()
            self.count += values.numel()
        else:
            items = top[top >= 0]
            self.counts += torch.bincount(items, minlength=self.n_items).to(self.counts)

    def compute(self) -> Tensor:
        if self.per_user_mean:
            return self.total / self.count.clamp_min(1.0)
        return self.from_counts(self.counts)

    def from_counts(self, counts: Tensor) -> Tensor:
        """The metric from ``float64[n_items]`` recommendation counts."""
        raise NotImplementedError


class ScoreMetric(torchmetrics.Metric):
    """A metric of the scores themselves (no cut-off), e.g. per-user AUC.

    ``update(scores: float[B, L], relevant: bool[B, L], valid: bool[B, L])``: ``valid`` marks the
    items that take part (masked items and padding are false). Subclasses implement
    :meth:`user_values` and :meth:`user_weights`; the state is a weighted sum and a weight sum.
    """

    family: ClassVar[str] = "score"
    full_state_update: ClassVar[bool] = False
    higher_is_better: ClassVar[bool] = True
    name: str = ""
    per_user_mean: ClassVar[bool] = True  # False: a weighted mean, so per-user values are not saved
    requires: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("weight", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    @property
    def key(self) -> str:
        return self.name

    def user_values(self, scores: Tensor, relevant: Tensor, valid: Tensor) -> Tensor:
        """``float64[B]`` per-user values (NaN where undefined, e.g. no negative)."""
        raise NotImplementedError

    def user_weights(self, relevant: Tensor, valid: Tensor) -> Tensor:
        """``float64[B]`` weight of each user in the mean (default 1)."""
        return torch.ones(relevant.shape[0], dtype=torch.float64, device=relevant.device)

    def update(
        self,
        scores: Tensor,
        relevant: Tensor,
        valid: Tensor,  # type: ignore[override]
        values: Tensor | None = None,
    ) -> None:
        if values is None:
            values = self.user_values(scores, relevant, valid)
        w = self.user_weights(relevant, valid)
        ok = ~torch.isnan(values)
        self.total += (values[ok] * w[ok]).sum()
        self.weight += w[ok].sum()

    def compute(self) -> Tensor:
        return self.total / self.weight.clamp_min(1e-300)
