"""AUC of each user's ranking, from scores; definitions in ``docs/metrics.md``.

For user ``u`` with relevant items ``P_u`` and non-relevant, unmasked items ``N_u``:
``AUC_u = (1 / |P_u||N_u|) sum_{p, n} [s_p > s_n] + 0.5 [s_p = s_n]``.
``auc`` is the mean of ``AUC_u`` over users; ``gauc`` weights ``AUC_u`` by ``|P_u|``. Users without
a non-relevant item are left out.
"""

from __future__ import annotations

import torch
from torch import Tensor

from recframe.api import ScoreMetric


def user_auc(scores: Tensor, relevant: Tensor, valid: Tensor) -> Tensor:
    """``float64[B]`` per-user AUC, ties counted 1/2; NaN without a positive or a negative.

    ``scores: float[B, L]``, ``relevant, valid: bool[B, L]``. One sort of the negatives per row and
    two ``searchsorted`` calls for the positives only; no pair matrix.
    """
    neg = valid & ~relevant
    pos = valid & relevant
    n_neg, n_pos = neg.sum(dim=1), pos.sum(dim=1)
    sorted_neg = torch.sort(torch.where(neg, scores, torch.inf), dim=1).values
    width = max(int(n_pos.max()) if n_pos.numel() else 0, 1)
    first = torch.topk(pos.to(torch.uint8), width, dim=1).indices  # positives first (order irrelevant)
    is_pos = pos.gather(1, first)
    values = scores.gather(1, first).contiguous()
    below = torch.minimum(torch.searchsorted(sorted_neg, values, right=False), n_neg[:, None])
    upto = torch.minimum(torch.searchsorted(sorted_neg, values, right=True), n_neg[:, None])
    wins = torch.where(is_pos, below.double() + 0.5 * (upto - below).double(), 0.0).sum(dim=1)
    pairs = (n_pos * n_neg).double()
    return torch.where(pairs > 0, wins / pairs.clamp_min(1.0), torch.nan)


class AUC(ScoreMetric):
    """Mean over users of the per-user AUC."""

    name = "auc"

    def user_values(self, scores: Tensor, relevant: Tensor, valid: Tensor) -> Tensor:
        return user_auc(scores, relevant, valid)


class GAUC(AUC):
    """Per-user AUC averaged with weights |P_u| (the user's number of relevant items)."""

    name = "gauc"
    per_user_mean = False

    def user_weights(self, relevant: Tensor, valid: Tensor) -> Tensor:
        return (relevant & valid).sum(dim=1).double()
