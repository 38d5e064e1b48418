"""Average reciprocal hit rank (Deshpande & Karypis, ACM TOIS 2004).

ARHR@k = sum over hits in the top k of 1 / rank: unlike MRR it rewards every hit, not only the
first.
"""

from __future__ import annotations

import torch
from torch import Tensor

from recframe.api import TopKMetric


class ARHR(TopKMetric):
    """Sum of reciprocal ranks of the relevant items in the top k."""

    name = "arhr"

    def per_user(self, hits: Tensor, n_relevant: Tensor) -> Tensor:
        ranks = torch.arange(1, hits.shape[1] + 1, device=hits.device, dtype=torch.float64)
        return (hits.double() / ranks).sum(dim=1)
