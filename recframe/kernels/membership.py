"""Whether (user, item) pairs are training positives, by a search inside each user's own row.

The sampler's positives are the sorted keys ``user * n_items + item`` (``int64[nnz]``), so user ``u``'s
keys are the run ``keys[starts[u]:starts[u + 1]]``. A global ``np.searchsorted`` over all keys
costs about ``log2(nnz)`` dependent cache misses per query (23 on ML-20M's 9.5M pairs, a few
microseconds each query once the keys outgrow the cache); searching only the user's run touches
one or two cache lines of a short row (70 keys on average there), so a draw's cost no longer grows
with the data. One compiled loop over the queries (:mod:`recframe.kernels`, numba).
"""

from __future__ import annotations

from numba import njit


@njit(nogil=True, inline="always", cache=True)
def in_user_row(keys, starts, n_items, u, item):  # pragma: no cover - compiled
    """Whether ``u * n_items + item`` is in ``keys[starts[u]:starts[u + 1]]`` (one query; see the module docstring)."""
    q = u * n_items + item
    lo, end = starts[u], starts[u + 1]
    hi = end
    while lo < hi:
        mid = (lo + hi) >> 1
        if keys[mid] < q:
            lo = mid + 1
        else:
            hi = mid
    return lo < end and keys[lo] == q


@njit(nogil=True, cache=True)
def row_membership(keys, starts, n_items, users, items, out):  # pragma: no cover - compiled
    """``out[j] = (users[j] * n_items + items[j]) in keys[starts[u]:starts[u + 1]]`` for every query ``j``.

    ``keys: int64[nnz]`` sorted, ``starts: int64[n_users + 1]``, ``users, items: int64[N]``,
    ``out: bool[N]``."""
    for j in range(users.shape[0]):
        out[j] = in_user_row(keys, starts, n_items, users[j], items[j])
