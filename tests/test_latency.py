"""Scoring latency: one method (warm-up, repeats, spread, threads) for runs, compression and benchmarks.

No wall time is asserted: the tests count calls and check the summary's internal order and units.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import recframe
from recframe.latency import latency_cost, measure


class CountingModel(nn.Module):
    """``score_all`` records the size of every call (``long[B] -> float[B, n_items]``)."""

    def __init__(self, n_items: int = 5) -> None:
        super().__init__()
        self.n_items = n_items
        self.calls: list[tuple[int, bool]] = []

    def score_all(self, users: torch.Tensor) -> torch.Tensor:
        self.calls.append((len(users), self.training))
        return torch.zeros(len(users), self.n_items)


def test_measure_warms_up_then_repeats_on_the_same_users_in_eval_mode():
    model = CountingModel()
    model.train()
    result = measure(model, n_users=300, repeats=4, warmup=2)
    sizes = [n for n, _ in model.calls]
    assert sizes[0] == 8  # the probe that sizes the timed batch
    assert sizes[1:] == [300] * (2 + 4)  # warm-up then timed calls, all on the 300 users
    assert not any(training for _, training in model.calls) and model.training  # eval mode, then restored
    assert result.min <= result.p25 <= result.median <= result.p75 <= result.max
    assert (result.repeats, result.warmup, result.users, result.threads) == (4, 2, 300, torch.get_num_threads())


def test_cost_entries_hold_the_median_and_the_spread():
    cost = latency_cost(CountingModel(), n_users=2000)
    detail = cost["latency"]
    assert detail["users"] == 1000
    assert cost["score_latency_ms_per_1k_users"] == pytest.approx(detail["median"], abs=1e-4)
    assert set(detail) == {"median", "min", "p25", "p75", "max", "repeats", "warmup", "users", "threads"}


def test_a_run_reports_latency_with_its_spread(ml100k, tmp_path):
    results = recframe.run(["data=ml-100k", "model=pop", "logger=none"], run_dir=tmp_path)
    detail = results["latency"]
    assert detail["users"] == 943 and detail["repeats"] == 5 and detail["warmup"] == 1
    assert detail["min"] <= results["cost"]["score_latency_ms_per_1k_users"] <= detail["max"]
