"""Losses over sampled negatives.

* BPR (Rendle et al., UAI 2009): ``-mean log sigmoid(s(u, i+) - s(u, i-))`` over every negative.
* BCE: binary cross-entropy with logits over positives and sampled negatives.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from recframe.api import Loss


class BPRLoss(Loss):
    """Bayesian personalised ranking on ``pos_score: [B]`` and ``neg_score: [B, n]``."""

    batch_kinds = ("pairwise",)

    def forward(self, outputs: dict[str, Tensor], batch: dict[str, Tensor]) -> Tensor:
        diff = outputs["pos_score"].unsqueeze(1) - outputs["neg_score"]
        return -F.logsigmoid(diff).mean()


class BCELoss(Loss):
    """Binary cross-entropy with logits on ``score: [B]`` against ``label: [B]``.

    On pairwise batches the positives are labelled 1 and every negative 0.
    """

    batch_kinds = ("pointwise", "pairwise")

    def forward(self, outputs: dict[str, Tensor], batch: dict[str, Tensor]) -> Tensor:
        if "score" in outputs:
            return F.binary_cross_entropy_with_logits(outputs["score"], batch["label"].float())
        pos, neg = outputs["pos_score"], outputs["neg_score"]
        return (
            F.binary_cross_entropy_with_logits(pos, pos.new_ones(pos.shape), reduction="sum")
            + F.binary_cross_entropy_with_logits(neg, neg.new_zeros(neg.shape), reduction="sum")
        ) / (pos.numel() + neg.numel())
