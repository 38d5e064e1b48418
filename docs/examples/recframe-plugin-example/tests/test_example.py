"""The example plugin's own tests, written with the fixtures recframe ships (recframe.testing)."""

from __future__ import annotations

import torch


def test_item_bias_learns_from_interactions(recframe_run):
    results = recframe_run(["model=item_bias", "trainer.max_epochs=5"])
    assert results["run"]["model"] == "item_bias"
    assert results["cost"]["params"] == 60 + 40  # one bias per user and per item of the synthetic data


def test_arhr_is_at_least_mrr(recframe_run):
    results = recframe_run(["model=pop", "metrics=with_arhr"])
    metrics = results["metrics"]
    assert metrics["test/arhr@10"] >= metrics["test/mrr@10"]


def test_arhr_by_hand():
    from recframe_example.arhr import ARHR

    metric = ARHR(k=3)
    metric.update(torch.tensor([[True, False, True], [False, False, False]]), torch.tensor([2, 1]))
    assert abs(float(metric.compute()) - (1 + 1 / 3) / 2) < 1e-12
