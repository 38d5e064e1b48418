"""Softmax-family losses.

* ``softmax``: full softmax cross-entropy of the positive item over all items
  (``-log exp(s_ui) / sum_j exp(s_uj)``), from the model's ``score_all``.
* ``sampled_softmax``: the same over the positive and its sampled negatives
  (Jean et al., ACL 2015; uniform negatives, so no log-Q correction is needed). It reads
  ``pos_score``/``neg_score`` only, so it serves pairwise batches (one row a user-item pair) and
  sequence batches (one row a target position) alike; HSTU (Zhai et al., ICML 2024) trains with it
  over 128 negatives.
* ``multinomial``: the multinomial log-likelihood of a user's whole row,
  ``-sum_i x_ui log softmax(z_u)_i`` (Liang et al., WWW 2018), for listwise models.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from recframe.api import Loss


class SoftmaxLoss(Loss):
    """Full softmax over every item; needs ``all_scores: [B, n_items]`` and ``batch['pos_item']``."""

    batch_kinds = ("pairwise",)
    needs_all_scores = True

    def forward(self, outputs: dict[str, Tensor], batch: dict[str, Tensor]) -> Tensor:
        return F.cross_entropy(outputs["all_scores"], batch["pos_item"])


class SampledSoftmaxLoss(Loss):
    """Softmax over ``[pos_score, neg_score...]`` (``[N]`` and ``[N, n]``) with temperature.

    ``N`` is the batch's rows (pairwise batches) or its target positions (sequence batches); the
    loss is the mean over them of ``logsumexp(pos, negs) - pos``.
    """

    batch_kinds = ("pairwise", "sequence")

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__()
        if float(temperature) <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)

    def forward(self, outputs: dict[str, Tensor], batch: dict[str, Tensor]) -> Tensor:
        logits = torch.cat([outputs["pos_score"].unsqueeze(1), outputs["neg_score"]], dim=1) / self.temperature
        return F.cross_entropy(logits, torch.zeros(len(logits), dtype=torch.long, device=logits.device))


class MultinomialLoss(Loss):
    """Negative multinomial log-likelihood of ``batch['row']: [B, n_items]`` under ``logits``."""

    batch_kinds = ("listwise",)

    def forward(self, outputs: dict[str, Tensor], batch: dict[str, Tensor]) -> Tensor:
        # gathered at the row's non-zero entries when the batch lists them (one fused log-softmax
        # pass over [B, n_items]); float32 even when the logits come from a bf16 autocast region
        row = batch["row"]
        nonzero = batch.get("row_nonzero")
        if nonzero is None:
            nonzero = row.nonzero().T
        log_probs = F.log_softmax(outputs["logits"].float(), dim=1)[nonzero[0], nonzero[1]]
        weighted = row[nonzero[0], nonzero[1]] * log_probs
        return -weighted.sum() / len(row)
