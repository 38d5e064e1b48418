"""Measured cost beside accuracy: scoring latency and the environment a run's numbers come from.

Parameter and byte counts are in :mod:`recframe.sizes`; fit and evaluation seconds are timed by the
run stages themselves.
"""

from __future__ import annotations

import platform
import time
from typing import Any

import numpy as np
import torch
from torch import nn


def score_latency_ms_per_1k(model: nn.Module, n_users: int, repeats: int = 3, budget_s: float = 2.0) -> float:
    """Median wall time of ``score_all`` for 1,000 users (fewer if the data has fewer), per 1k users.

    Models whose scoring is slow (a deep CTR model scores every user-item pair through its network)
    are timed on fewer users, as many as the 8-user warm-up predicts to fit in ``budget_s`` per repeat.
    """
    users = torch.arange(min(1000, n_users))
    times = []
    model.eval()
    with torch.no_grad():
        start = time.perf_counter()
        model.score_all(users[:8])  # warm-up
        per_user = (time.perf_counter() - start) / min(8, len(users))
        users = users[:max(8, min(len(users), int(budget_s / max(per_user, 1e-9))))]
        for _ in range(repeats):
            start = time.perf_counter()
            model.score_all(users)
            times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000.0 * 1000.0 / len(users))


def environment(train_device: str = "cpu") -> dict[str, Any]:
    """Versions and the device the model was trained on (``cpu`` for models fitted in closed form), for results.json."""
    import lightning

    device = str(train_device)
    if device.startswith("cuda") and torch.cuda.is_available():
        device = f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    return {"python": platform.python_version(), "torch": torch.__version__, "lightning": lightning.__version__,
            "numpy": np.__version__, "platform": platform.platform(), "device": device,
            "cpu_threads": torch.get_num_threads()}


__all__ = ["environment", "score_latency_ms_per_1k"]
