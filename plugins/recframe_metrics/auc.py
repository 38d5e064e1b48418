"""AUC of each user's ranking, from scores; definitions in ``docs/metrics.md``.

For user ``u`` with relevant items ``P_u`` and non-relevant, unmasked items ``N_u``:
``AUC_u = (1 / |P_u||N_u|) sum_{p, n} [s_p > s_n] + 0.5 [s_p = s_n]``.
``auc`` is the mean of ``AUC_u`` over users; ``gauc`` weights ``AUC_u`` by ``|P_u|``. Users without
a non-relevant item are left out.
"""

from __future__ import annotations

import torch
from torch import Tensor

from recframe.evaluation.metrics import ScoreMetric


def user_auc(scores: Tensor, relevant: Tensor, valid: Tensor) -> Tensor:
    """``float64[B]`` per-user AUC, ties counted 1/2; NaN without a positive or a negative.

    ``scores: float[B, L]``, ``relevant, valid: bool[B, L]``. One sort per row and two
    ``searchsorted`` calls; no pair matrix.
    """
    scores = scores.double()
    neg = valid & ~relevant
    pos = valid & relevant
    sorted_neg = torch.sort(torch.where(neg, scores, torch.inf), dim=1).values
    n_neg = neg.sum(dim=1)
    below = torch.searchsorted(sorted_neg, scores.contiguous(), right=False)
    upto = torch.minimum(torch.searchsorted(sorted_neg, scores.contiguous(), right=True), n_neg[:, None])
    below = torch.minimum(below, n_neg[:, None])
    wins = torch.where(pos, below.double() + 0.5 * (upto - below).double(), 0.0).sum(dim=1)
    n_pos = pos.sum(dim=1)
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

    def user_weights(self, relevant: Tensor, valid: Tensor) -> Tensor:
        return (relevant & valid).sum(dim=1).double()
