"""Labelled (CTR) evaluation: pointwise metrics of the model's scores for held-out labelled records.

Under ``protocol.ranking: none`` nothing is ranked: every valid/test record ``(user, item, label)``
plus its context ids is scored once and compared with its 0/1 label (AUC, LogLoss). The evaluator
has the interface of :class:`~recframe.evaluation.ranking.RankingEvaluator` (``reset``, ``update``,
``compute``, ``evaluate``, ``keys``, ``metrics``), so Lightning validation, checkpointing on
``valid/<protocol.valid_metric>`` and the runner's final evaluation use it unchanged. Its target's
``users`` are the *row indices* of the labelled records (the units that validation batches hold).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from recframe.data.interactions import Interactions
from recframe.errors import ConfigError


@dataclass
class LabeledTarget:
    """Held-out labelled records: ``user, item: int64[N]``, ``label: float32[N]``, ``context: int64[N, S]``.

    ``users`` is ``arange(N)``: evaluation batches are row indices into these arrays.
    """

    user: np.ndarray
    item: np.ndarray
    label: np.ndarray
    context: np.ndarray

    @property
    def users(self) -> np.ndarray:
        return np.arange(len(self.user), dtype=np.int64)

    @classmethod
    def from_part(cls, part: Interactions, context: np.ndarray | None = None) -> "LabeledTarget":
        if part.rating is None:
            raise ConfigError(
                "protocol.ranking=none evaluates labelled records, but the data has no ratings or labels; "
                "set protocol.labels or use protocol.ranking=full"
            )
        ctx = np.zeros((len(part), 0), dtype=np.int64) if context is None else np.asarray(context, dtype=np.int64)
        return cls(part.user, part.item, np.asarray(part.rating, dtype=np.float32), ctx)


def labeled_batch(target: LabeledTarget, rows: np.ndarray) -> dict[str, Tensor]:
    """``{"user", "item": long[B], "label": float[B], "context": long[B, S]}`` for ``rows``."""
    return {
        "user": torch.from_numpy(target.user[rows]),
        "item": torch.from_numpy(target.item[rows]),
        "label": torch.from_numpy(target.label[rows]),
        "context": torch.from_numpy(target.context[rows]),
    }


class LabeledEvaluator(nn.Module):
    """Pointwise metrics (``family = "pointwise"``) over labelled records, scored by ``model(batch)["score"]``.

    The score is a logit (LogLoss ``from_logits``); the model sees the records' context ids in
    ``batch["context"]``.
    """

    def __init__(self, metrics: dict[str, nn.Module], batch_rows: int = 65536) -> None:
        super().__init__()
        bad = [k for k, m in metrics.items() if getattr(m, "family", "") != "pointwise"]
        if bad:
            raise ConfigError(
                f"metrics {', '.join(bad)} rank items, but protocol.ranking=none scores labelled records "
                f"only; use pointwise metrics (metrics=ctr: pointwise_auc, logloss)"
            )
        if not metrics:
            raise ConfigError("protocol.ranking=none needs pointwise metrics; set metrics=ctr (pointwise_auc, logloss)")
        self.metrics = nn.ModuleDict(dict(metrics))
        self.keys = list(metrics)
        self.batch_rows = int(batch_rows)

    def reset(self) -> None:
        for m in self.metrics.values():
            m.reset()

    @torch.no_grad()
    def update(
        self,
        model: nn.Module,
        rows: np.ndarray,
        target: LabeledTarget,
        per_user: dict[str, list[Tensor]] | None = None,
        lists: list[Tensor] | None = None,
    ) -> None:
        """Score the records ``rows`` (``int64[B]`` indices into ``target``) and update every metric."""
        batch = labeled_batch(target, np.asarray(rows, dtype=np.int64))
        device = next(iter(model.parameters()), torch.empty(0)).device
        scores = model({k: v.to(device) for k, v in batch.items()})["score"].detach().float().cpu()
        for key, metric in zip(self.keys, self.metrics.values()):
            try:
                metric.update(scores, batch["label"])
            except ValueError as exc:
                raise ConfigError(f"metric '{key}': {exc}") from None

    def compute(self) -> dict[str, float]:
        return {key: float(m.compute()) for key, m in zip(self.keys, self.metrics.values())}

    def evaluate(
        self, model: nn.Module, target: LabeledTarget, keep_per_user: bool = False, keep_lists: bool = False
    ) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        """Metrics over every record of ``target`` (no per-user values, no top-K lists)."""
        self.reset()
        was_training = model.training
        model.eval()
        try:
            rows = target.users
            for start in range(0, len(rows), self.batch_rows):
                self.update(model, rows[start : start + self.batch_rows], target)
        finally:
            model.train(was_training)
        return self.compute(), {}


def labeled_evaluation(
    split, metrics: dict[str, nn.Module], features=None
) -> tuple[LabeledEvaluator, dict[str, LabeledTarget]]:
    """The evaluator and the valid/test targets of ``protocol.ranking: none`` (context ids from ``features``)."""
    targets = {
        part: LabeledTarget.from_part(
            split.part(part), None if features is None else features.context(split.part(part))
        )
        for part in ("valid", "test")
    }
    return LabeledEvaluator(metrics), targets
