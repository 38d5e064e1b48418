"""Measured cost beside accuracy: scoring latency and the environment a run's numbers come from.

Parameter and byte counts are in :mod:`recframe.sizes`; fit and evaluation seconds are timed by the
run stages themselves.
"""

from __future__ import annotations

import platform
from typing import Any

import numpy as np
import torch
from torch import nn


def score_latency_ms_per_1k(model: nn.Module, n_users: int, repeats: int = 5, budget_s: float = 2.0) -> float:
    """Median wall time of ``score_all`` per 1,000 users, measured as :mod:`recframe.latency` says."""
    from recframe.latency import measure

    return measure(model, n_users, repeats=repeats, budget_s=budget_s).median


def environment(train_device: str = "cpu") -> dict[str, Any]:
    """Versions and the device the model was trained on (``cpu`` for models fitted in closed form), for results.json."""
    import lightning

    device = str(train_device)
    if device.startswith("cuda") and torch.cuda.is_available():
        device = f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "lightning": lightning.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "device": device,
        "cpu_threads": torch.get_num_threads(),
    }


__all__ = ["environment", "score_latency_ms_per_1k"]
