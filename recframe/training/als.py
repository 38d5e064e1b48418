"""Implicit-ALS half-steps: the compiled per-row CG kernel when numba is there, a batched torch CG otherwise.

A half-step improves one side's factors (users, or items) with the other side fixed, by ``steps``
conjugate-gradient steps per row warm-started from the current factors (see
:mod:`recframe.kernels.als` for the system solved). Both paths solve the same systems with the
same number of CG steps and differ only by float rounding:

- :func:`recframe.kernels.als.cg_rows` (``recframe[fast]``): one pass per row over its observed
  columns, rows split into ``threads`` contiguous blocks of about equal nonzeros, run on threads
  (the loop releases the GIL). No ``[nnz, d]`` temporaries.
- :func:`cg_side_torch`: all rows at once, a product being ``x G`` plus one scatter-add over the
  observations; it allocates ``[nnz, d]`` temporaries and runs several memory passes per CG step.

``threads`` defaults to ``torch.get_num_threads()``, so the run's declared thread count holds here too.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch import Tensor

from recframe import kernels


def gram_matrix(other: np.ndarray, reg: float) -> np.ndarray:
    """``float[d, d]``: ``Y^T Y + reg I`` for ``other = Y: float[n, d]`` (torch's BLAS, torch's thread count)."""
    y = torch.from_numpy(other)
    gram = y.T @ y
    gram.diagonal().add_(reg)
    return gram.numpy()


def row_blocks(indptr: np.ndarray, parts: int) -> list[tuple[int, int]]:
    """Split rows ``0:n`` into at most ``parts`` contiguous ``(start, stop)`` blocks of about equal nonzeros + rows."""
    n = indptr.shape[0] - 1
    if parts <= 1 or n < 2 * parts:
        return [(0, n)]
    work = indptr.astype(np.float64) + np.arange(n + 1)  # a row costs its nonzeros plus a d x d product
    cuts = np.searchsorted(work, np.linspace(0.0, work[-1], parts + 1)[1:-1])
    bounds = [0, *sorted(set(int(c) for c in cuts)), n]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=False) if b > a]


def cg_side_torch(
    rows: Tensor, cols: Tensor, current: Tensor, other: Tensor, alpha: float, reg: float, steps: int
) -> Tensor:
    """Batched fallback: ``current: float[n_rows, d]`` improved by ``steps`` CG steps, all rows at once.

    ``rows, cols: long[nnz]`` the observed pairs; ``other: float[n_cols, d]``. Returns a new tensor.
    """
    gram = other.T @ other + reg * torch.eye(other.shape[1], dtype=other.dtype)
    y = other[cols]  # [nnz, d]

    def matvec(v: Tensor) -> Tensor:
        weighted = y * (alpha * (y * v[rows]).sum(dim=1, keepdim=True))
        return (v @ gram).index_add_(0, rows, weighted)

    b = torch.zeros_like(current).index_add_(0, rows, (1.0 + alpha) * y)
    x = current.clone()
    observed = torch.zeros(current.shape[0], dtype=torch.bool)
    observed[rows] = True
    x[~observed] = 0.0  # the exact solution of a row without observations
    r = b - matvec(x)
    p = r.clone()
    rs = (r * r).sum(dim=1, keepdim=True)
    for _ in range(steps):
        ap = matvec(p)
        step = rs / (p * ap).sum(dim=1, keepdim=True).clamp_min(1e-30)
        x += step * p
        r -= step * ap
        rs_new = (r * r).sum(dim=1, keepdim=True)
        p = r + (rs_new / rs.clamp_min(1e-30)) * p
        rs = rs_new
    return x


def cg_half_step(
    indptr: np.ndarray,
    indices: np.ndarray,
    factors: np.ndarray,
    other: np.ndarray,
    alpha: float,
    reg: float,
    steps: int,
    threads: int | None = None,
) -> None:
    """Improve ``factors: float[n_rows, d]`` in place by ``steps`` CG steps per row towards the ALS solution.

    ``indptr: int64[n_rows + 1]``, ``indices: int[nnz]``: the CSR of observed pairs (row -> row of
    ``other: float[n_cols, d]``, same dtype as ``factors``, C-contiguous).
    """
    threads = torch.get_num_threads() if threads is None else max(1, int(threads))
    if not kernels.available():
        rows = torch.from_numpy(np.repeat(np.arange(indptr.shape[0] - 1), np.diff(indptr)))
        cols = torch.from_numpy(indices.astype(np.int64, copy=False))
        factors[...] = cg_side_torch(
            rows, cols, torch.from_numpy(factors), torch.from_numpy(other), alpha, reg, steps
        ).numpy()
        return
    from recframe.kernels.als import cg_rows

    gram = gram_matrix(other, reg)
    a = other.dtype.type(alpha)
    blocks = row_blocks(indptr, threads)
    if len(blocks) == 1:
        cg_rows(indptr, indices, other, gram, factors, a, int(steps), 0, indptr.shape[0] - 1)
        return
    with ThreadPoolExecutor(max_workers=len(blocks)) as pool:
        for done in [
            pool.submit(cg_rows, indptr, indices, other, gram, factors, a, int(steps), s, e) for s, e in blocks
        ]:
            done.result()
