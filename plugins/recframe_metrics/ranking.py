"""Top-k ranking metrics; each maps ``hits: bool[B, k]`` and ``n_relevant: long[B]`` to ``float[B]``.

Definitions (``docs/metrics.md``), with ``rel_j`` the hit at rank ``j = 1..k`` and ``R`` the number of
relevant items:

* HR@k = 1 if any ``rel_j``; Recall@k = sum rel_j / R; Precision@k = sum rel_j / k
* NDCG@k = sum rel_j / log2(j + 1), divided by the ideal DCG over min(R, k) hits
* MRR@k = 1 / (rank of the first hit), 0 without a hit
* MAP@k = sum_j rel_j * Precision@j / min(R, k)
"""

from __future__ import annotations

import torch
from torch import Tensor

from recframe.api import TopKMetric


def _discounts(k: int, device: torch.device) -> Tensor:
    return 1.0 / torch.log2(torch.arange(2, k + 2, device=device, dtype=torch.float64))


class HitRate(TopKMetric):
    """Hit rate: share of users with at least one relevant item in the top k."""

    name = "hr"

    def per_user(self, hits: Tensor, n_relevant: Tensor) -> Tensor:
        return hits.any(dim=1).double()


class Recall(TopKMetric):
    """Recall: relevant items in the top k over all relevant items of the user."""

    name = "recall"

    def per_user(self, hits: Tensor, n_relevant: Tensor) -> Tensor:
        return hits.sum(dim=1).double() / n_relevant.double()


class Precision(TopKMetric):
    """Precision: relevant items in the top k over k."""

    name = "precision"

    def per_user(self, hits: Tensor, n_relevant: Tensor) -> Tensor:
        return hits.sum(dim=1).double() / self.k


class NDCG(TopKMetric):
    """Normalised discounted cumulative gain with binary relevance; ideal DCG over min(R, k)."""

    name = "ndcg"

    def per_user(self, hits: Tensor, n_relevant: Tensor) -> Tensor:
        disc = _discounts(hits.shape[1], hits.device)
        dcg = (hits.double() * disc).sum(dim=1)
        ideal = torch.cumsum(disc, 0)[(n_relevant.clamp(max=hits.shape[1]) - 1).long()]
        return dcg / ideal


class MRR(TopKMetric):
    """Mean reciprocal rank of the first relevant item within the top k."""

    name = "mrr"

    def per_user(self, hits: Tensor, n_relevant: Tensor) -> Tensor:
        ranks = torch.arange(1, hits.shape[1] + 1, device=hits.device, dtype=torch.float64)
        first = torch.where(hits, ranks, torch.inf).min(dim=1).values
        return torch.where(torch.isinf(first), 0.0, 1.0 / first)


class MAP(TopKMetric):
    """Mean average precision at k, normalised by min(R, k)."""

    name = "map"

    def per_user(self, hits: Tensor, n_relevant: Tensor) -> Tensor:
        h = hits.double()
        ranks = torch.arange(1, hits.shape[1] + 1, device=hits.device, dtype=torch.float64)
        precision_at = torch.cumsum(h, dim=1) / ranks
        return (precision_at * h).sum(dim=1) / n_relevant.clamp(max=hits.shape[1]).double()
