"""``recframe report`` over a sweep of private and ordinary runs: the privacy columns, a Pareto front
over three objectives, and infinite epsilons drawn at the axis's end."""

from __future__ import annotations

import csv
import math

import pytest
from sweeps_helpers import FAST, recframe_cli

from recframe.sweeps.pareto import finite_points


@pytest.mark.slow  # two DP-SGD runs with explanation fidelity and two reports: ~25 s on an idle machine
def test_report_has_the_privacy_columns_and_a_three_objective_front(tmp_path):
    code, _ = recframe_cli(
        [
            "-m",
            *FAST,
            "name=priv",
            f"paths.output_dir={tmp_path}",
            "model=bpr",
            "trainer.privacy={epsilon: 8, delta: 1e-6, max_grad_norm: 1.0}",
            "trainer.privacy.epsilon=2,inf",
            "membership_inference.enabled=true",
            "membership_inference.pairs=500",
            "explain=fidelity",
            "explain.fidelity.sample_users=5",
        ]
    )
    assert code == 0
    sweep = tmp_path / "multiruns" / "priv"
    objectives = ["test/ndcg@10:max", "privacy.epsilon:min", "privacy.attack_auc:min"]
    assert recframe_cli(["report", str(sweep), "--objectives", *objectives])[0] == 0
    with open(sweep / "report.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    together = {"test/ndcg@10", "privacy.epsilon", "privacy.attack_auc", "explain.fidelity.area"}
    together |= {"cost.score_latency_ms_per_1k_users", "cost.params"}
    assert len(rows) == 2 and together <= set(rows[0])  # the frontier's columns side by side
    assert all(float(r["explain.fidelity.area"]) == float(r["explain.fidelity.area"]) for r in rows)  # not NaN
    by_target = {r["trainer.privacy.epsilon"]: r for r in rows}
    assert 0 < float(by_target["2"]["privacy.epsilon"]) <= 2.0
    assert math.isinf(float(by_target["inf"]["privacy.epsilon"]))
    assert all(0.0 <= float(r["privacy.attack_auc"]) <= 1.0 for r in rows)
    assert by_target["2"]["pareto"] == "1"  # nothing has a smaller epsilon
    assert (sweep / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fidelity = ["explain.fidelity.area:max", "privacy.epsilon:min", "test/ndcg@10:max"]
    assert recframe_cli(["report", str(sweep), "--objectives", *fidelity])[0] == 0  # fidelity as an objective
    with open(sweep / "report.csv", newline="") as fh:
        again = {r["trainer.privacy.epsilon"]: r for r in csv.DictReader(fh)}
    assert again["2"]["pareto"] == "1"  # still nothing has a smaller epsilon


def test_infinite_values_move_to_the_end_of_their_axis():
    points, at = finite_points([(1.0, 0.5), (math.inf, 0.7), None, (4.0, -math.inf)])
    assert at == pytest.approx([6.0, 1.05])
    assert points[2] is None and points[0] == (1.0, 0.5)
    assert points[1] == pytest.approx((6.0, 0.7)) and points[3] == pytest.approx((4.0, -1.05))
