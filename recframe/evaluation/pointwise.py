"""Pointwise evaluation: metrics of scores for labelled ``(user, item, label)`` triples.

Used for explicit ratings (the label is the rating, the score a predicted rating) and click labels
(the label is 0/1, the score a logit). Every pointwise metric is a ``torchmetrics.Metric`` with
``update(scores: float[N], labels: float[N])``. The core holds the base class and the evaluation loop;
the metrics themselves (RMSE, MAE, LogLoss, the global AUC) are the metrics plugin's
(``recframe_metrics.pointwise``).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
import torchmetrics
from torch import Tensor, nn

from recframe.data.interactions import Interactions
from recframe.errors import ConfigError


class PointwiseMetric(torchmetrics.Metric):
    """Mean of a per-triple loss: ``total = sum loss(score, label)``, ``count = N``."""

    family: ClassVar[str] = "pointwise"
    full_state_update: ClassVar[bool] = False
    higher_is_better: ClassVar[bool] = False
    needs_ratings: ClassVar[bool] = True  # False: 0/1 labels
    requires: ClassVar[tuple[str, ...]] = ()  # constructor inputs from METRIC_INPUTS (see TopKMetric.requires)
    name: ClassVar[str] = ""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    @property
    def key(self) -> str:
        return self.name

    def loss(self, scores: Tensor, labels: Tensor) -> Tensor:
        """``float64[N]`` per-triple values."""
        raise NotImplementedError

    def update(self, scores: Tensor, labels: Tensor) -> None:  # type: ignore[override]
        self.total += self.loss(scores.double(), labels.double()).sum()
        self.count += scores.numel()

    def compute(self) -> Tensor:
        return self.total / self.count.clamp_min(1.0)


def check_pointwise(
    metrics: dict[str, torchmetrics.Metric], data: Interactions, model: nn.Module | None = None, model_name: str = ""
) -> None:
    """Raise a one-line :class:`ConfigError` if a metric needs labels the data does not have, or (given
    ``model``) rating predictions the model does not make: RMSE of ranking scores against ratings is a
    number with no meaning. A model whose scores are rating predictions says ``predicts_ratings = True``."""
    rating_metrics = [k for k, m in metrics.items() if getattr(m, "needs_ratings", True)]
    if model is not None and rating_metrics and not getattr(model, "predicts_ratings", False):
        raise ConfigError(
            f"metrics {', '.join(rating_metrics)} compare predicted with true ratings, but model "
            f"'{model_name or type(model).__name__}' scores items for ranking and predicts no "
            f"ratings; remove them from metrics.names"
        )
    if data.rating is None and metrics:
        raise ConfigError(
            f"metrics {', '.join(metrics)} need ratings or labels but the dataset is implicit "
            f"(no ratings); remove them from metrics.names"
        )
    binary = [k for k, m in metrics.items() if not getattr(m, "needs_ratings", True)]
    if binary and data.rating is not None and len(data) and not np.isin(np.unique(data.rating), (0.0, 1.0)).all():
        raise ConfigError(
            f"metrics {', '.join(binary)} need 0/1 labels but the dataset's ratings are "
            f"{', '.join(f'{r:g}' for r in np.unique(data.rating)[:5])}...; use rmse or mae"
        )


@torch.no_grad()
def evaluate_pointwise(
    model: nn.Module, part: Interactions, metrics: dict[str, torchmetrics.Metric], batch_size: int = 65536
) -> dict[str, float]:
    """Score every ``(user, item)`` of ``part`` and compare with its rating (``rating`` is the label).

    Raises a one-line :class:`ConfigError` when a metric needs ratings and ``part`` has none.
    """
    if not metrics:
        return {}
    check_pointwise(metrics, part)
    for m in metrics.values():
        m.reset()
    model.eval()
    labels_all = torch.as_tensor(np.asarray(part.rating), dtype=torch.float64)
    for start in range(0, len(part), batch_size):
        sl = slice(start, start + batch_size)
        users = torch.as_tensor(part.user[sl])
        items = torch.as_tensor(part.item[sl])
        scores = model.score(users, items).detach().cpu()
        for m in metrics.values():
            try:
                m.update(scores, labels_all[sl])
            except ValueError as exc:
                raise ConfigError(f"metric '{m.key}': {exc}") from None
    return {key: float(m.compute()) for key, m in metrics.items()}
