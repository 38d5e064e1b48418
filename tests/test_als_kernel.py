"""The iALS half-step (compiled per-row CG and its torch fallback) against a dense exact solve."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from recframe.training.als import cg_half_step, cg_side_torch, row_blocks


def _problem(
    seed: int, n_rows: int = 40, n_cols: int = 30, d: int = 6, density: float = 0.15, dtype: type = np.float64
) -> tuple[sp.csr_matrix, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = (rng.random((n_rows, n_cols)) < density).astype(np.float32)
    x[3] = 0.0  # a row without observations
    return sp.csr_matrix(x), rng.normal(size=(n_cols, d)).astype(dtype)


def _exact(csr: sp.csr_matrix, other: np.ndarray, alpha: float, reg: float) -> np.ndarray:
    """Dense oracle: ``x_u = (Y^T C_u Y + reg I)^-1 Y^T C_u p_u`` per row, in float64."""
    x = csr.toarray().astype(np.float64)
    y = other.astype(np.float64)
    out = np.empty((x.shape[0], y.shape[1]))
    for u in range(x.shape[0]):
        c = 1.0 + alpha * x[u]
        out[u] = np.linalg.solve(y.T @ (c[:, None] * y) + reg * np.eye(y.shape[1]), y.T @ (c * x[u]))
    return out


def _objective(csr: sp.csr_matrix, users: np.ndarray, items: np.ndarray, alpha: float, reg: float) -> float:
    """``sum c_ui (p_ui - x_u . y_i)^2 + reg (|X|^2 + |Y|^2)`` computed densely (small data only)."""
    p = csr.toarray().astype(np.float64)
    c = 1.0 + alpha * p
    err = p - users.astype(np.float64) @ items.astype(np.float64).T
    return float((c * err * err).sum() + reg * ((users.astype(np.float64) ** 2).sum() + (items**2).sum()))


@pytest.mark.parametrize("kernel", ["1", "0"], ids=["numba", "torch"])
@pytest.mark.parametrize("threads", [1, 2])
def test_enough_cg_steps_reach_the_exact_solution(monkeypatch, kernel, threads):
    monkeypatch.setenv("RECFRAME_KERNELS", kernel)
    csr, other = _problem(seed=threads)
    alpha, reg = 4.0, 0.5
    rng = np.random.default_rng(7)
    factors = rng.normal(size=(csr.shape[0], other.shape[1]))  # warm start far from the solution
    cg_half_step(csr.indptr.astype(np.int64), csr.indices, factors, other, alpha, reg, steps=40, threads=threads)
    exact = _exact(csr, other, alpha, reg)
    np.testing.assert_allclose(factors, exact, atol=1e-5, rtol=1e-5)
    assert not factors[3].any()  # no observations: exactly zero


def test_compiled_kernel_equals_the_torch_fallback_with_few_steps(monkeypatch):
    """Three CG steps from the same warm start: both paths take the same steps (float32 rounding apart)."""
    csr, other = _problem(seed=5, n_rows=200, n_cols=120, d=16, dtype=np.float32)
    start = np.random.default_rng(1).normal(size=(200, 16)).astype(np.float32) * 0.1
    results = []
    for kernel in ("1", "0"):
        monkeypatch.setenv("RECFRAME_KERNELS", kernel)
        factors = start.copy()
        cg_half_step(csr.indptr.astype(np.int64), csr.indices, factors, other, 10.0, 2.0, steps=3, threads=2)
        results.append(factors)
    np.testing.assert_allclose(results[0], results[1], atol=2e-4, rtol=1e-3)
    assert np.abs(results[0] - start).max() > 1e-2  # the step moved the factors


def test_torch_fallback_matches_the_oracle_directly():
    csr, other = _problem(seed=9)
    coo = csr.tocoo()
    rows, cols = torch.from_numpy(coo.row.astype(np.int64)), torch.from_numpy(coo.col.astype(np.int64))
    out = cg_side_torch(
        rows,
        cols,
        torch.zeros(csr.shape[0], other.shape[1], dtype=torch.float64),
        torch.from_numpy(other),
        3.0,
        1.0,
        steps=40,
    )
    np.testing.assert_allclose(out.numpy(), _exact(csr, other, 3.0, 1.0), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kernel", ["1", "0"], ids=["numba", "torch"])
def test_alternating_half_steps_decrease_the_objective(monkeypatch, kernel):
    monkeypatch.setenv("RECFRAME_KERNELS", kernel)
    csr, _ = _problem(seed=11, n_rows=60, n_cols=50, d=8, density=0.2)
    by_item = csr.T.tocsr()
    rng = np.random.default_rng(3)
    users = (rng.normal(size=(60, 8)) * 0.1).astype(np.float32)
    items = (rng.normal(size=(50, 8)) * 0.1).astype(np.float32)
    alpha, reg = 5.0, 1.0
    values = [_objective(csr, users, items, alpha, reg)]
    for _ in range(6):
        cg_half_step(csr.indptr.astype(np.int64), csr.indices, users, items, alpha, reg, steps=3)
        values.append(_objective(csr, users, items, alpha, reg))
        cg_half_step(by_item.indptr.astype(np.int64), by_item.indices, items, users, alpha, reg, steps=3)
        values.append(_objective(csr, users, items, alpha, reg))
    assert all(b <= a * (1 + 1e-6) for a, b in zip(values, values[1:], strict=False)), values
    assert values[-1] < 0.5 * values[0]


def test_row_blocks_cover_every_row_once_and_balance_nonzeros():
    rng = np.random.default_rng(0)
    counts = rng.zipf(1.5, size=1000).clip(max=500)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    blocks = row_blocks(indptr, 4)
    assert blocks[0][0] == 0 and blocks[-1][1] == 1000
    assert all(a[1] == b[0] for a, b in zip(blocks, blocks[1:], strict=False))
    work = [indptr[e] - indptr[s] + (e - s) for s, e in blocks]
    assert max(work) <= (indptr[-1] + 1000) / 4 + counts.max() + 1
    assert row_blocks(indptr[:3], 4) == [(0, 2)]
