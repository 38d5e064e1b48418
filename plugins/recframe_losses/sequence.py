"""Losses of next-item training on sequence batches (``batch_kind = "sequence"``).

Both read the outputs a sequential model gives at the ``N`` target positions of a batch:

* ``sequence_bce`` (SASRec, Kang & McAuley, ICDM 2018; S3-Rec's fine-tuning loss): binary
  cross-entropy of each next item (label 1) and of each of its sampled negatives (label 0), summed
  over a position's positive and negatives and averaged over target positions. With one negative
  per position this is S3-Rec's ``-log s(p) - log(1 - s(n))`` mean.
* ``sequence_ce``: full softmax cross-entropy of the next item over every item at every target
  position (``all_scores: [N, n_items]``), as RecBole trains GRU4Rec and SASRec with ``loss_type CE``.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from recframe.api import Loss


class SequenceBCELoss(Loss):
    """BCE on ``pos_score: float[N]`` (label 1) and ``neg_score: float[N, n]`` (label 0)."""

    batch_kinds = ("sequence",)

    def forward(self, outputs: dict[str, Tensor], batch: dict[str, Tensor]) -> Tensor:
        pos, neg = outputs["pos_score"], outputs["neg_score"]
        per_position = F.softplus(-pos) + F.softplus(neg).sum(dim=1)  # -log s(p) - sum log(1 - s(n))
        return per_position.mean()


class SequenceCELoss(Loss):
    """Softmax cross-entropy of ``target_item: long[N]`` under ``all_scores: float[N, n_items]``."""

    batch_kinds = ("sequence",)
    needs_all_scores = True

    def forward(self, outputs: dict[str, Tensor], batch: dict[str, Tensor]) -> Tensor:
        return F.cross_entropy(outputs["all_scores"], outputs["target_item"])
