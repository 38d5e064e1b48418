"""Row-sparse optimiser steps as single loops over the rows a mini-batch touched.

A sparse embedding gradient is ``index: int64[N]`` with ``values: float32[N, d]`` (one row per
lookup, repeats allowed). :func:`sum_rows` sums the repeats in lookup order (the order a dense
``index_add_`` uses) into ``R`` distinct rows, with a scratch ``slot: int64[n_rows]`` (all ``-1``
between calls) instead of a sort; :func:`adam_rows` applies Adam's update to those rows of the
weights and both moment tables in one pass, where torch needs three gathers, a dozen ``[R, d]``
temporaries and three scatters (see :mod:`recframe.training.sparse_optim`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def sum_rows(index, values, slot, rows, summed):  # pragma: no cover - compiled
    """Distinct rows of ``index`` into ``rows: int64[N]`` (first-seen order), their summed values into
    ``summed: float32[N, d]``; returns their count ``R`` (the first ``R`` entries are valid)."""
    d = values.shape[1]
    r = 0
    for i in range(index.shape[0]):
        row = index[i]
        s = slot[row]
        if s < 0:
            slot[row] = r
            rows[r] = row
            for q in range(d):
                summed[r, q] = values[i, q]
            r += 1
        else:
            for q in range(d):
                summed[s, q] += values[i, q]
    for j in range(r):
        slot[rows[j]] = -1
    return r


@njit(nogil=True, fastmath={"contract", "nsz"}, error_model="numpy", cache=True)  # NaN, inf keep meaning
def adam_rows(
    weight, exp_avg, exp_avg_sq, rows, grad, count, lr, beta1, beta2, eps, bias1, bias2, weight_decay
):  # pragma: no cover - compiled
    """Adam's step (``torch.optim.Adam``'s formula, L2 ``weight_decay``) on ``rows[:count]`` of
    ``weight``/``exp_avg``/``exp_avg_sq`` (``float32[n, d]``) with their gradients ``grad[:count]``.

    The arithmetic is float32 (as torch's), so the inner loop over ``d`` compiles to vector code."""
    d = weight.shape[1]
    one_m_b1, b2, one_m_b2 = np.float32(1.0 - beta1), np.float32(beta2), np.float32(1.0 - beta2)
    step, root2 = np.float32(lr / bias1), np.float32(math.sqrt(bias2))
    eps32, wd = np.float32(eps), np.float32(weight_decay)
    for j in range(count):
        w, m, v, g = weight[rows[j]], exp_avg[rows[j]], exp_avg_sq[rows[j]], grad[j]
        for q in range(d):
            gq = g[q] + wd * w[q]
            mq = m[q] + one_m_b1 * (gq - m[q])
            vq = b2 * v[q] + one_m_b2 * gq * gq
            m[q] = mq
            v[q] = vq
            w[q] -= step * mq / (np.sqrt(vq) / root2 + eps32)


def new_slots(n_rows: int) -> np.ndarray:
    """The scratch :func:`sum_rows` needs for a table of ``n_rows`` rows."""
    return np.full(n_rows, -1, dtype=np.int64)
