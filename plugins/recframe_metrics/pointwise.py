"""Pointwise metrics of scores for labelled ``(user, item, label)`` triples: RMSE, MAE, LogLoss, global AUC.

RMSE and MAE compare predicted ratings with ratings; LogLoss and the global AUC compare logits with 0/1
click labels. Every metric takes ``update(scores: float[N], labels: float[N])``. RMSE, MAE and LogLoss
keep sums, so batched and DDP evaluation equal one pass; the global AUC keeps the scores (``cat``
state) because it is not a sum over pairs of batches.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torchmetrics
from scipy.stats import rankdata
from torch import Tensor

from recframe.api import PointwiseMetric


class RMSE(PointwiseMetric):
    """Root mean squared error of predicted ratings."""

    name = "rmse"

    def loss(self, scores: Tensor, labels: Tensor) -> Tensor:
        return (scores - labels) ** 2

    def compute(self) -> Tensor:
        return torch.sqrt(super().compute())


class MAE(PointwiseMetric):
    """Mean absolute error of predicted ratings."""

    name = "mae"

    def loss(self, scores: Tensor, labels: Tensor) -> Tensor:
        return (scores - labels).abs()


class LogLoss(PointwiseMetric):
    """Binary cross-entropy of 0/1 labels given logits (``from_logits``) or probabilities."""

    name = "logloss"
    needs_ratings = False

    def __init__(self, from_logits: bool = True, eps: float = 1e-7, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.from_logits = from_logits
        self.eps = eps

    def loss(self, scores: Tensor, labels: Tensor) -> Tensor:
        if ((labels != 0) & (labels != 1)).any():
            raise ValueError("logloss needs labels in {0, 1}")
        if self.from_logits:
            return torch.nn.functional.binary_cross_entropy_with_logits(scores, labels, reduction="none")
        p = scores.clamp(self.eps, 1 - self.eps)
        return -(labels * torch.log(p) + (1 - labels) * torch.log1p(-p))


class PointwiseAUC(torchmetrics.Metric):
    """Global AUC over all labelled triples (ties count 1/2): the Mann-Whitney statistic."""

    family: ClassVar[str] = "pointwise"
    full_state_update: ClassVar[bool] = False
    higher_is_better: ClassVar[bool] = True
    needs_ratings: ClassVar[bool] = False
    name: ClassVar[str] = "pointwise_auc"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_state("scores", default=[], dist_reduce_fx="cat")
        self.add_state("labels", default=[], dist_reduce_fx="cat")

    @property
    def key(self) -> str:
        return self.name

    def update(self, scores: Tensor, labels: Tensor) -> None:  # type: ignore[override]
        self.scores.append(scores.detach().double().reshape(-1))
        self.labels.append(labels.detach().double().reshape(-1))

    def compute(self) -> Tensor:
        s = torchmetrics.utilities.dim_zero_cat(self.scores).cpu().numpy()
        y = torchmetrics.utilities.dim_zero_cat(self.labels).cpu().numpy() > 0.5
        n_pos, n_neg = int(y.sum()), int((~y).sum())
        if n_pos == 0 or n_neg == 0:
            return torch.tensor(float("nan"), dtype=torch.float64)
        ranks = rankdata(s)  # average ranks for ties
        return torch.tensor((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg), dtype=torch.float64)
