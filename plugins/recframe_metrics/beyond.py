"""Beyond-accuracy metrics of the top-k lists; definitions in ``docs/metrics.md``.

With ``c_i`` the number of lists item ``i`` appears in (``n`` items), ``pop_i`` its training
interaction count and ``U`` the number of users:

* coverage@k = |{i : c_i > 0}| / n
* gini@k = sum_j (2j - n - 1) c_(j) / (n sum c), ``c_(j)`` sorted ascending (0: even, -> 1: one item)
* entropy@k = -sum_i p_i ln p_i with p_i = c_i / sum c (nats)
* avgpop@k = mean over users of the mean pop_i of their list
* novelty@k = mean over users of the mean -log2(max(pop_i, 1) / U) of their list
* tail@k = mean over users of the share of their list outside the head, the ceil(20% n) most
  popular items (ties in popularity broken by item id)
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from recframe.api import ListMetric

HEAD_SHARE = 0.2


class Coverage(ListMetric):
    """Share of all items recommended to at least one user."""

    name = "coverage"
    per_user_mean = False

    def from_counts(self, counts: Tensor) -> Tensor:
        return (counts > 0).double().mean()


class Gini(ListMetric):
    """Gini index of how often items are recommended (0: all equally often); lower is more even."""

    name = "gini"
    per_user_mean = False
    higher_is_better = False

    def from_counts(self, counts: Tensor) -> Tensor:
        c = torch.sort(counts.double()).values
        n = c.numel()
        total = c.sum()
        if total <= 0:
            return torch.tensor(0.0, dtype=torch.float64)
        j = torch.arange(1, n + 1, dtype=torch.float64, device=c.device)
        return ((2 * j - n - 1) * c).sum() / (n * total)


class Entropy(ListMetric):
    """Shannon entropy (nats) of the distribution of recommendations over items."""

    name = "entropy"
    per_user_mean = False

    def from_counts(self, counts: Tensor) -> Tensor:
        total = counts.sum()
        if total <= 0:
            return torch.tensor(0.0, dtype=torch.float64)
        p = counts[counts > 0].double() / total
        return -(p * torch.log(p)).sum()


class AveragePopularity(ListMetric):
    """Mean training interaction count of the recommended items."""

    name = "avgpop"
    higher_is_better = False

    def item_values(self) -> Tensor:
        return self.popularity


class Novelty(ListMetric):
    """Mean self-information -log2(pop share) of the recommended items; share = max(pop, 1) / users."""

    name = "novelty"

    def item_values(self) -> Tensor:
        if not self.n_users:
            raise ValueError("novelty needs n_users (the number of training users)")
        return -torch.log2(self.popularity.clamp_min(1.0) / self.n_users)


class TailShare(ListMetric):
    """Share of recommended items in the long tail (outside the 20% most popular items)."""

    name = "tail"

    def item_values(self) -> Tensor:
        n_head = math.ceil(HEAD_SHARE * self.n_items)
        order = torch.sort(-self.popularity, stable=True).indices  # most popular first, ties by id
        tail = torch.ones(self.n_items, dtype=torch.float64, device=self.popularity.device)
        tail[order[:n_head]] = 0.0
        return tail
