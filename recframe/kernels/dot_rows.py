"""Inner products of gathered user and item rows, and their gradient, as single loops.

``scores[b, j] = <U[users[b]], V[items[b, j]]>`` for ``users: int64[B]``, ``items: int64[B, k]``,
``U: float32[n_users, d]``, ``V: float32[n_items, d]``. Torch computes it as two gathers into
``[B, d]`` and ``[B, k, d]`` temporaries and a batched product, and its gradient as two more
``[B, k, d]`` products plus two scatter-adds; here each is one pass over the batch that reads the
rows in place. The gradient is summed into dense ``[n_users, d]`` and ``[n_items, d]`` tables in
batch order (deterministic), exactly the kind of gradient ``nn.Embedding`` produces.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(nogil=True, fastmath={"reassoc", "contract", "nsz"}, cache=True)  # NaN and inf keep their meaning
def dot_rows(U, V, users, items, out):  # pragma: no cover - compiled
    """``out[b, j] = <U[users[b]], V[items[b, j]]>``; ``out: float32[B, k]``."""
    d = U.shape[1]
    for b in range(items.shape[0]):
        u = U[users[b]]
        for j in range(items.shape[1]):
            v = V[items[b, j]]
            acc = np.float32(0.0)
            for q in range(d):
                acc += u[q] * v[q]
            out[b, j] = acc


@njit(nogil=True, fastmath={"reassoc", "contract", "nsz"}, cache=True)  # NaN and inf keep their meaning
def dot_rows_backward(U, V, users, items, grad, grad_U, grad_V):  # pragma: no cover - compiled
    """Add the gradient of ``sum(grad * dot_rows(U, V, users, items))`` into ``grad_U``, ``grad_V``.

    ``grad: float32[B, k]``; ``grad_U``/``grad_V`` are zeroed by the caller (or ``None`` when
    that table needs no gradient).
    """
    d = U.shape[1]
    for b in range(items.shape[0]):
        ui = users[b]
        for j in range(items.shape[1]):
            g = grad[b, j]
            vi = items[b, j]
            if grad_U is not None:
                for q in range(d):
                    grad_U[ui, q] += g * V[vi, q]
            if grad_V is not None:
                for q in range(d):
                    grad_V[vi, q] += g * U[ui, q]
