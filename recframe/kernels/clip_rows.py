"""DP-SGD's per-sample clipping of an embedding table's gradient, as two single loops.

A sample ``s`` looked up the table rows ``ids[s, j]`` (``int64[S, K]``; ``-1``: a padding lookup,
which gets no gradient) and the loss sent back ``g[s, j]`` (``float32[S, K, d]``) through each
lookup. The sample's gradient of the table is ``g[s, j]`` summed per distinct row, so

* :func:`sample_row_sq` adds its squared L2 norm to ``sq[s]``, merging the lookups of a sample that
  hit the same row before squaring (``O(K^2)`` id comparisons per sample; ``K`` is a handful of
  lookups for the models DP-SGD trains);
* :func:`clipped_row_sum` adds ``coef[s] * g[s, j]`` into the dense table gradient ``out[ids[s, j]]``.

Torch needs a sort, a ``[lookups, d]`` segment sum and two scatter-adds for the same thing; each of
these is a parallel region, and on a loaded machine with few cores the waits between them cost far
more than the arithmetic. Here each is one sequential pass in sample order (deterministic), used
when :func:`recframe.kernels.available`; :class:`recframe.privacy.clipping.PerSampleClipper` keeps
its torch path otherwise.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def sample_row_sq(ids, g, sq):  # pragma: no cover - compiled
    """``sq[s] += sum over the distinct rows r of sample s of ||sum_{j: ids[s, j] = r} g[s, j]||^2``.

    ``ids: int64[S, K]``, ``g: float32[S, K, d]``, ``sq: float64[S]``."""
    n, k = ids.shape
    d = g.shape[2]
    acc = np.zeros(d, dtype=np.float64)
    for s in range(n):
        total = 0.0
        for j in range(k):
            row = ids[s, j]
            if row < 0:
                continue
            first = True  # merged into an earlier lookup of the same row?
            for i in range(j):
                if ids[s, i] == row:
                    first = False
                    break
            if not first:
                continue
            for q in range(d):
                acc[q] = g[s, j, q]
            for i in range(j + 1, k):
                if ids[s, i] == row:
                    for q in range(d):
                        acc[q] += g[s, i, q]
            for q in range(d):
                total += acc[q] * acc[q]
        sq[s] += total


@njit(nogil=True, cache=True)
def clipped_row_sum(ids, g, coef, out):  # pragma: no cover - compiled
    """``out[ids[s, j]] += coef[s] * g[s, j]`` over every non-padding lookup, in sample order.

    ``ids: int64[S, K]``, ``g: float32[S, K, d]``, ``coef: float32[S]``, ``out: float32[rows, d]``."""
    n, k = ids.shape
    d = g.shape[2]
    for s in range(n):
        c = coef[s]
        for j in range(k):
            row = ids[s, j]
            if row < 0:
                continue
            for q in range(d):
                out[row, q] += c * g[s, j, q]
