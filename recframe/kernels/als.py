"""One implicit-ALS half-step as a compiled loop: a few conjugate-gradient steps per row, in place.

For row ``u`` (a user, or an item on the other half-step) with observed columns ``I_u`` the exact
ALS update solves ``A_u x_u = b_u`` with

    A_u = G + alpha * sum_{i in I_u} y_i y_i^T,    G = Y^T Y + reg * I  (precomputed once a half-step)
    b_u = (1 + alpha) * sum_{i in I_u} y_i

(Hu, Koren, Volinsky, ICDM 2008: confidence ``1 + alpha`` on observed pairs, preference 1). ``A_u``
is never formed: a product ``A_u p`` costs ``d^2 + 2 |I_u| d``, and ``steps`` CG steps warm-started
from the current ``x_u`` (Takacs, Pilaszy, Tikk, RecSys 2011) cost ``steps + 1`` such products.
Rows are independent, so a half-step is one loop over rows; the loop releases the GIL and callers
run contiguous blocks of rows on threads.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(nogil=True, fastmath={"reassoc", "contract", "nsz", "arcp"}, cache=True)
def cg_rows(indptr, indices, other, gram, factors, alpha, steps, start, stop):  # pragma: no cover - compiled
    """Update ``factors[u]`` for ``u`` in ``start:stop`` by ``steps`` CG steps on ``A_u x = b_u``.

    ``indptr: int64[n_rows + 1]``, ``indices: int32|int64[nnz]`` the CSR of observed pairs (row ->
    columns of ``other``); ``other: float[n_cols, d]`` the fixed side ``Y``; ``gram: float[d, d]``
    ``Y^T Y + reg I``; ``factors: float[n_rows, d]`` updated in place (same dtype as ``other``).
    A row without observations gets ``x = 0`` (its exact solution).
    """
    d = other.shape[1]
    x = np.empty(d, other.dtype)
    r = np.empty(d, other.dtype)
    p = np.empty(d, other.dtype)
    ap = np.empty(d, other.dtype)
    one_plus_alpha = other.dtype.type(1.0) + alpha
    for u in range(start, stop):
        lo, hi = indptr[u], indptr[u + 1]
        if lo == hi:
            factors[u, :] = 0.0
            continue
        for q in range(d):
            x[q] = factors[u, q]
        # r = b - A x = (1 + alpha) sum y_i - G x - alpha sum (y_i . x) y_i
        for q in range(d):
            acc = other.dtype.type(0.0)
            for t in range(d):
                acc += gram[q, t] * x[t]
            r[q] = -acc
        for k in range(lo, hi):
            y = other[indices[k]]
            dot = other.dtype.type(0.0)
            for q in range(d):
                dot += y[q] * x[q]
            w = one_plus_alpha - alpha * dot
            for q in range(d):
                r[q] += w * y[q]
        rs = other.dtype.type(0.0)
        for q in range(d):
            p[q] = r[q]
            rs += r[q] * r[q]
        for _ in range(steps):
            if rs <= 1e-30:
                break
            for q in range(d):  # ap = A p
                acc = other.dtype.type(0.0)
                for t in range(d):
                    acc += gram[q, t] * p[t]
                ap[q] = acc
            for k in range(lo, hi):
                y = other[indices[k]]
                dot = other.dtype.type(0.0)
                for q in range(d):
                    dot += y[q] * p[q]
                w = alpha * dot
                for q in range(d):
                    ap[q] += w * y[q]
            pap = other.dtype.type(0.0)
            for q in range(d):
                pap += p[q] * ap[q]
            if pap <= 0.0:
                break
            a = rs / pap
            rs_new = other.dtype.type(0.0)
            for q in range(d):
                x[q] += a * p[q]
                r[q] -= a * ap[q]
                rs_new += r[q] * r[q]
            beta = rs_new / rs
            for q in range(d):
                p[q] = r[q] + beta * p[q]
            rs = rs_new
        for q in range(d):
            factors[u, q] = x[q]
