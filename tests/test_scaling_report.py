"""The scaling report: the power-law fit against points with a known exponent, the bootstrap
interval's coverage, the knee, and ``recframe report --scaling`` over a sweep folder of real
results.json files (every point carrying its balance row)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from recframe.errors import ConfigError
from recframe.sweeps.scaling import (
    bootstrap_exponent,
    build_scaling_report,
    fit_power_law,
    knee_index,
    marginal_returns,
    write_scaling_report,
)


def test_fit_recovers_a_known_exponent_from_noisy_points():
    rng = np.random.default_rng(0)
    x = np.geomspace(1e4, 1e8, 9)
    y = 0.02 * x**0.12 * np.exp(rng.normal(0, 0.02, len(x)))
    a, b, r2 = fit_power_law(x, y)
    assert b == pytest.approx(0.12, abs=0.01)
    assert a == pytest.approx(0.02, rel=0.2)
    assert r2 > 0.95


def test_fit_is_exact_on_exact_points_and_matches_a_brute_force_line():
    x = np.array([10.0, 100.0, 1e3, 1e5])
    y = 3.0 * x**-0.5
    a, b, r2 = fit_power_law(x, y)
    assert (a, b, r2) == pytest.approx((3.0, -0.5, 1.0))
    # an independent oracle: the normal equations solved by hand on the logs
    lx, ly = np.log10(x), np.log10(y * np.array([1.1, 0.9, 1.05, 1.0]))
    n = len(lx)
    slope = (n * (lx * ly).sum() - lx.sum() * ly.sum()) / (n * (lx**2).sum() - lx.sum() ** 2)
    assert fit_power_law(x, 10**ly)[1] == pytest.approx(slope)


def test_fit_needs_two_distinct_sizes():
    with pytest.raises(ConfigError, match="two sizes"):
        fit_power_law([5.0, 5.0], [0.1, 0.2])


def test_bootstrap_interval_covers_the_true_exponent_about_as_often_as_its_level():
    """Over 400 synthetic sweeps (6 sizes x 3 seeds, lognormal seed noise), the 90% interval holds
    the true exponent in most of them; a percentile bootstrap with 3 seeds under-covers a little,
    so the bound is loose (0.70), and the interval is not vacuous (it misses a wrong exponent)."""
    rng = np.random.default_rng(1)
    x = np.geomspace(1e4, 1e7, 6)
    true_b, hits, wide_misses = 0.1, 0, 0
    for trial in range(400):
        seeds = [0.05 * xi**true_b * np.exp(rng.normal(0, 0.05, 3)) for xi in x]
        low, high = bootstrap_exponent(x, seeds, n_boot=1000, level=0.9, seed=trial)
        hits += low <= true_b <= high
        wide_misses += low <= 0.0 <= high
    assert hits / 400 >= 0.70
    assert wide_misses == 0


def test_marginal_returns_and_knee():
    x = [1e4, 1e5, 1e6, 1e7]
    y = [0.10, 0.14, 0.15, 0.152]
    returns = marginal_returns(x, y)
    assert returns == pytest.approx([0.04, 0.01, 0.002])
    assert knee_index(returns, 0.005) == 2
    assert knee_index(returns, 0.02) == 1
    assert knee_index(returns, 0.001) is None


def _job(root: Path, size: str, seed: int, ndcg: float, params: int, flops: float, topk: np.ndarray) -> None:
    """A job folder as a sweep writes it: overrides, status, results.json, topk.npz."""
    job = root / f"scaling_size={size},seed={seed}"
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(f"- scaling_size={size}\n- seed={seed}\n")
    (job / "status.json").write_text(json.dumps({"state": "complete"}))
    results = {
        "protocol": {"name": "leave_one_out", "valid_metric": "ndcg@10"},
        "metrics": {"test/ndcg@10": ndcg, "valid/ndcg@10": ndcg, "test/membership_auc": 0.5 + seed / 100},
        "cost": {
            "params": params,
            "non_embedding_params": params // 2,
            "model_bytes": 4 * params,
            "fit_seconds": 1.0 + seed,
            "train_flops": flops,
            "score_latency_ms_per_1k_users": 2.0,
        },
        "run": {"seed": seed},
        # measured outside metrics: the deletion-test fidelity and the privacy block (no DP: epsilon inf)
        "explain": {"fidelity": {"area": 0.3 + seed / 100, "rank_drop@1": 0.2}},
        "privacy": {"epsilon": float("inf"), "delta": None, "unit": "none", "attack_auc": 0.55 + seed / 100},
    }
    (job / "results.json").write_text(json.dumps(results))
    np.savez(job / "topk.npz", users=np.arange(len(topk)), items=topk)


def test_report_over_a_sweep_folder(tmp_path):
    from recframe.run_state import run_health

    rng = np.random.default_rng(2)
    sizes = {"xs": 1e4, "s": 1e5, "m": 1e6, "l": 1e7}
    for size, p in sizes.items():
        for seed in range(3):
            ndcg = 0.01 * p**0.1 * (1 + rng.normal(0, 0.01))
            topk = np.tile(np.arange(10), (5, 1)) + (seed if size == "xs" else 0)  # xs lists differ between seeds
            _job(tmp_path, size, seed, ndcg, int(p), 6 * p * 1e6, topk.astype(np.int32))
    assert run_health(tmp_path / "scaling_size=xs,seed=0")[0] == "complete"
    report = build_scaling_report(tmp_path, "test/ndcg@10", threshold=0.005, n_boot=500)
    by_axis = {law.axis: law for law in report.laws}
    assert set(by_axis) == {"cost.params", "cost.non_embedding_params", "cost.train_flops"}
    law = by_axis["cost.params"]
    assert law.b == pytest.approx(0.1, abs=0.02)
    assert law.b_low <= 0.1 <= law.b_high
    assert law.n_sizes == 4
    points = {p.label: p for p in report.points}
    assert set(points) == {"scaling_size=xs", "scaling_size=s", "scaling_size=m", "scaling_size=l"}
    xs = points["scaling_size=xs"].row
    assert xs["seeds"] == 3 and xs["seed_std"] > 0
    assert xs["churn"] > 0.1 and points["scaling_size=l"].row["churn"] == 0.0  # identical lists: no churn
    assert xs["test/membership_auc"] == pytest.approx(0.51)  # a privacy column measured by the runs
    assert xs["explain.fidelity.area"] == pytest.approx(0.31)  # explanation fidelity (results["explain"])
    assert xs["privacy.attack_auc"] == pytest.approx(0.56)  # the privacy block's membership-inference AUC
    assert "privacy.epsilon" not in xs  # inf (no DP) in every run: not a measured column
    assert xs["cost.fit_seconds"] == pytest.approx(2.0)
    written = write_scaling_report(report, draw=True)
    assert [p.name for p in written] == ["scaling.md", "scaling.json", "scaling.png"]
    assert json.loads((tmp_path / "scaling.json").read_text())["laws"][0]["axis"] == "cost.params"
    assert (tmp_path / "scaling.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_report_scaling(tmp_path, capsys):
    from recframe.cli import main

    for size, p in {"a": 1e3, "b": 1e5}.items():
        for seed in range(2):
            _job(tmp_path, size, seed, 0.001 * p**0.2, int(p), p * 1e3, np.zeros((3, 10), dtype=np.int32))
    assert main(["report", "--scaling", "--no-plot", "--level", "0.9", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "exponent 90% interval" in out and "wrote" in out
    assert (tmp_path / "scaling.md").is_file() and not (tmp_path / "scaling.png").exists()


def test_seeds_run_as_separately_named_sweeps_are_one_size(tmp_path):
    """A size's third seed run later under another ``name`` joins its size, not a size of its own."""
    for size, p in {"a": 1e3, "b": 1e5}.items():
        for seed in range(3):
            _job(tmp_path, size, seed, 0.001 * p**0.2 * (1 + seed / 50), int(p), p * 1e3, np.zeros((3, 10), np.int32))
    overrides = tmp_path / "scaling_size=b,seed=2" / ".hydra" / "overrides.yaml"
    overrides.write_text(overrides.read_text() + "- name=scaling-rerun\n")
    points = {p.label: p for p in build_scaling_report(tmp_path, n_boot=100).points}
    assert set(points) == {"scaling_size=a", "scaling_size=b"}
    assert points["scaling_size=b"].row["seeds"] == 3


def test_report_with_one_size_is_a_one_line_error(tmp_path):
    for seed in range(2):
        _job(tmp_path, "only", seed, 0.1, 1000, 1e9, np.zeros((3, 10), dtype=np.int32))
    with pytest.raises(ConfigError, match="at least two sizes"):
        build_scaling_report(tmp_path)
