"""Scoring latency, measured one way everywhere (runs, compression stages, benchmarks).

The method (docs/metrics.md, "Scoring latency"):

1. the users are the first 1,000 (fewer if the data has fewer); a model whose ``score_all`` is slow
   (a deep CTR model scores every pair through its network) is timed on fewer, as many as an 8-user
   probe predicts to fit in ``budget_s`` per call;
2. ``warmup`` untimed calls on exactly those users (allocator, caches, lazy kernels);
3. ``repeats`` timed calls of ``score_all(users)`` under ``torch.no_grad()`` in eval mode, each by
   ``time.perf_counter``;
4. reported: the median per 1,000 users, and the spread: min, 25th and 75th percentiles, max (same
   unit), with the repeats, the number of users and torch's intra-op thread count.

Wall-clock latency depends on the machine's load; compare values measured in one process.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

REPEATS = 5
WARMUP = 1


@dataclass(frozen=True)
class Latency:
    """One latency measurement, every value in milliseconds per 1,000 users."""

    median: float
    min: float
    p25: float
    p75: float
    max: float
    repeats: int
    warmup: int
    users: int
    threads: int

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def measure(
    model: nn.Module, n_users: int, repeats: int = REPEATS, warmup: int = WARMUP, budget_s: float = 2.0
) -> Latency:
    """Time ``model.score_all`` (``long[B] -> float[B, n_items]``) as the module docstring says."""
    from recframe.evaluation.ranking import RankingEvaluator
    from recframe.training.devices import synchronize

    device = RankingEvaluator.device_of(model)  # trainer.eval_device: where the model was placed
    users = torch.arange(min(1000, n_users), device=device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            probe = users[:8]
            start = time.perf_counter()
            model.score_all(probe)
            synchronize(device)
            per_user = (time.perf_counter() - start) / max(len(probe), 1)
            users = users[: max(min(8, len(users)), min(len(users), int(budget_s / max(per_user, 1e-9))))]
            for _ in range(warmup):
                model.score_all(users)
            synchronize(device)
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                model.score_all(users)
                synchronize(device)
                times.append(time.perf_counter() - start)
    finally:
        model.train(was_training)
    per_1k = np.asarray(times) * 1000.0 * 1000.0 / len(users)
    return Latency(
        median=float(np.median(per_1k)),
        min=float(per_1k.min()),
        p25=float(np.percentile(per_1k, 25)),
        p75=float(np.percentile(per_1k, 75)),
        max=float(per_1k.max()),
        repeats=repeats,
        warmup=warmup,
        users=int(len(users)),
        threads=int(torch.get_num_threads()),
    )


def latency_cost(model: nn.Module, n_users: int) -> dict[str, Any]:
    """``{"score_latency_ms_per_1k_users": median, "latency": the whole measurement}`` for results.json."""
    result = measure(model, n_users)
    return {"score_latency_ms_per_1k_users": round(result.median, 4), "latency": result.as_dict()}
