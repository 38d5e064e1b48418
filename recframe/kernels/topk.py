"""Exact top-``K`` of ``U @ V.T`` per row, pruned with a bfloat16 product and a proven error bound.

Full ranking needs, per user, the ``K`` items with the largest ``s[j] = <u, v_j>`` among the items
the user has not seen. Computing every ``s`` in float32 and running ``torch.topk`` costs about as
much as the rest of an evaluation together. Here:

1. the caller computes ``t = bf16(u) @ bf16(V).T`` with a bfloat16 output (on CPUs with AMX or
   AVX512-BF16 about 8x faster than float32) and ``slack = 2 * delta``, ``delta`` an upper bound
   on ``|t[j] - s[j]|`` (:func:`recframe.evaluation.factor_ranking.bf16_error_bound`);
2. per row, with the user's seen items masked, the items are cut into ``nc`` chunks of 16
   (chunk ``c`` = items ``c, c + nc, c + 2 nc, ...``, so that the chunk maxima are a vectorised
   maximum over whole rows), the chunks into ``3 K`` groups, and ``G`` is the ``K``-th largest
   group maximum. The groups are disjoint, so ``K`` distinct items have ``t >= G``; the true
   ``K``-th largest score is therefore at least ``G - delta``, and every true top-``K`` item has
   ``t >= G - 2 delta``;
3. only items with ``t >= G - slack`` (on ML-1M a few dozen of 3,123 a user) are collected and
   get their exact score, a float64 sum of float32 products; the top ``K`` of those is the answer.

The result is the exact top-``K`` of the true inner products (equal scores: lower item id first),
whatever the bfloat16 rounding did, because step 3 never discards an item that could be in it.
Rows with fewer than ``K`` unseen items end with ``-1``. The loops are serial and release the GIL,
so callers may run blocks of rows on threads (numba's own parallel pools spin idle threads, which
costs more CPU than it saves here).
"""

from __future__ import annotations

import numpy as np
from numba import njit

CHUNK = 16  # items a chunk
GROUPS_PER_K = 3  # groups of chunks per wanted item: 2 to 4 measured alike, 3 the fastest


@njit(inline="always")
def _insert(values, ids, k, x, j):  # pragma: no cover - compiled
    """Insert ``(x, j)`` into ``values`` (descending; equal values by ascending id)."""
    p = k - 1
    while p > 0 and (values[p - 1] < x or (values[p - 1] == x and ids[p - 1] > j)):
        values[p] = values[p - 1]
        ids[p] = ids[p - 1]
        p -= 1
    values[p] = x
    ids[p] = j


@njit(nogil=True, fastmath={"nnan", "nsz", "reassoc", "contract"}, cache=True)
def top_k_pruned(
    bits, U, V, slack, rows_user, seen_ptr, seen_items, rel_ptr, rel_items, k, start, stop, out, hits
):  # pragma: no cover - compiled
    """``out[b] = ids of the k largest <U[b], V[j]>`` over items ``j`` not seen by user ``rows_user[b]``,
    for rows ``b`` in ``start:stop``.

    ``bits: uint16[B, n]`` the bfloat16 scores ``bf16(U) @ bf16(V).T`` (read only);
    ``U: float32[B, d]``, ``V: float32[n, d]``; ``slack: float32[B]`` twice a bound on
    ``|bits - U @ V.T|`` per row; seen items of user ``x`` are ``seen_items[seen_ptr[x]:seen_ptr[x+1]]``
    (CSR over all users); ``out: int64[B, k]``, ``-1`` where a row has fewer than ``k`` unseen items;
    ``hits: bool[B, k]``: is ``out[b, q]`` among the relevant items of the user (CSR ``rel_ptr``,
    ``rel_items``, like the seen ones).
    """
    n = bits.shape[1]
    d = U.shape[1]
    nc = (n + CHUNK - 1) // CHUNK
    buf = np.full(nc * CHUNK, np.uint32(0xFF800000))  # float32 -inf past the last item
    f = buf.view(np.float32)
    chunk_max = np.empty(nc, np.float32)
    ng = min(nc, GROUPS_PER_K * k)
    group_max = np.empty(ng, np.float32)
    lower = np.empty(k, np.float32)
    lower_ids = np.empty(k, np.int64)
    best = np.empty(k, np.float64)
    best_ids = np.empty(k, np.int64)
    cand = np.empty(nc * CHUNK, np.int64)
    neg_inf = np.float32(-np.inf)
    for b in range(start, stop):
        row = bits[b]
        for j in range(n):
            buf[j] = np.uint32(row[j]) << 16  # bfloat16 bits -> float32
        user = rows_user[b]
        for p in range(seen_ptr[user], seen_ptr[user + 1]):
            f[seen_items[p]] = neg_inf
        for c in range(nc):  # chunk c = items c, c + nc, c + 2 nc, ...: a max over whole rows, vectorised
            chunk_max[c] = f[c]
        for r in range(1, CHUNK):
            o = r * nc
            for c in range(nc):
                x = f[o + c]
                chunk_max[c] = x if x > chunk_max[c] else chunk_max[c]
        for g in range(ng):  # group g = chunks g, g + ng, g + 2 ng, ... (maxima over disjoint items)
            group_max[g] = neg_inf
        for c0 in range(0, nc - ng + 1, ng):
            for g in range(ng):
                x = chunk_max[c0 + g]
                group_max[g] = x if x > group_max[g] else group_max[g]
        for c in range(nc - nc % ng, nc):
            x = chunk_max[c]
            g = c - (nc - nc % ng)
            group_max[g] = x if x > group_max[g] else group_max[g]
        lower[:] = neg_inf
        lower_ids[:] = -1
        for g in range(ng):
            m = group_max[g]
            if m > lower[k - 1]:
                _insert(lower, lower_ids, k, m, g)
        theta = np.float64(lower[k - 1]) - np.float64(slack[b])  # -inf when fewer than k groups hold an unseen item
        m_c = 0
        for c in range(nc):
            if chunk_max[c] >= theta and chunk_max[c] > neg_inf:
                for r in range(CHUNK):
                    j = r * nc + c
                    x = f[j]
                    if x >= theta and x > neg_inf:
                        cand[m_c] = j
                        m_c += 1
        best[:] = -np.inf  # then the exact scores of the candidates, in one tight loop
        best_ids[:] = -1
        u = U[b]
        for t in range(m_c):
            j = cand[t]
            acc = 0.0
            v = V[j]
            for q in range(d):
                acc += np.float64(u[q]) * np.float64(v[q])
            if best_ids[k - 1] < 0 or acc > best[k - 1] or (acc == best[k - 1] and j < best_ids[k - 1]):
                _insert(best, best_ids, k, acc, j)
        for q in range(k):
            out[b, q] = best_ids[q]
            hit = False
            for p in range(rel_ptr[user], rel_ptr[user + 1]):
                hit = hit or rel_items[p] == best_ids[q]
            hits[b, q] = hit
