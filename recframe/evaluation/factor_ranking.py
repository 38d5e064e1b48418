"""Full ranking of inner-product models: exact top-``K`` without scoring every item in float32.

A model whose scores are inner products (BPR-MF, LightGCN, GMF, iALS) says so through
:meth:`recframe.models.Recommender.score_factors`: ``P: float[B, d]`` and ``Q: float[n_items, d]``
with ``score_all(users)[b] = P[b] @ Q.T`` (plus, at most, a constant per row, which does not change
the ranking). For such models on the CPU, with numba installed (``recframe[fast]``), the
full-ranking evaluator finds each user's top ``K`` unseen items by :func:`top_k_by_factors`:

* ``bf16(P) @ bf16(Q).T`` in bfloat16 (AMX/AVX512-BF16 matrix units: ~8x the float32 speed here),
* a bound ``delta[b]`` on how far those scores can be from the real inner products
  (:func:`bf16_error_bound`),
* :func:`recframe.kernels.topk.top_k_pruned`, which keeps every item the bound cannot rule out and
  ranks those by their exact score.

The lists are the exact top ``K`` of the real inner products (ties: lower item id first); the
float32 path (``score_all`` then ``torch.topk``) ranks the same items except where two scores lie
within float32 rounding of each other. ``RECFRAME_KERNELS=0`` selects the float32 path.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

#: fewest rows worth a thread of their own
MIN_ROWS_PER_THREAD = 256
#: unit roundoff of bfloat16 (8 significant bits, round to nearest even)
BF16_UNIT = 2.0**-8
#: unit roundoff of float32, the accumulator of bfloat16 matrix products
FP32_UNIT = 2.0**-24


def bf16_error_bound(user_factors: Tensor, item_factors: Tensor, item_max_norm: float | None = None) -> Tensor:
    """``float32[B]``: ``delta[b] >= |bf16(bf16(P[b]) @ bf16(Q).T) - P[b] @ Q.T|`` for every item.

    With ``u`` the bfloat16 unit roundoff and ``A = sum_k |p_k q_k|``: rounding both factors costs
    at most ``(2u + u^2) A``; summing ``d`` products in float32 at most ``gamma_d (1 + u)^2 A``
    (``gamma_d = d eps / (1 - d eps)``, any summation order); rounding the sum to bfloat16 at most
    ``u (1 + u)^2 (1 + gamma_d) A``. ``A <= |p| max_j |q_j|`` (Cauchy-Schwarz). A 1% margin covers
    the float32 norms; a tiny absolute term covers flushed subnormals. ``item_max_norm`` is
    ``max_j |q_j|`` when the caller has it already.
    """
    d = user_factors.shape[1]
    u = BF16_UNIT
    gamma = d * FP32_UNIT / (1 - d * FP32_UNIT)
    c = 2 * u + u * u + gamma * (1 + u) ** 2 + u * (1 + u) ** 2 * (1 + gamma)
    if item_max_norm is None:
        item_max_norm = float(torch.linalg.vector_norm(item_factors.float(), dim=1).max())
    user_norm = torch.linalg.vector_norm(user_factors.float(), dim=1)
    return (1.01 * c) * user_norm * item_max_norm + 1e-30


@dataclass(frozen=True)
class ItemSide:
    """What ranking derives from the item factors ``Q`` once, for every batch of users."""

    factors: Tensor  # float32[n_items, d], contiguous
    bf16_t: Tensor  # bfloat16[d, n_items], contiguous: the product's faster operand layout (~25%)
    max_norm: float  # max_j |q_j|
    finite: bool  # no inf/NaN in Q (a sum that overflows also counts as not finite: harmless)


def item_side(item_factors: Tensor) -> ItemSide:
    """:class:`ItemSide` of ``item_factors``; computed once per evaluation pass by the caller
    (:class:`recframe.evaluation.ranking.RankingEvaluator` keeps it until its next ``reset``)."""
    Q = item_factors.detach().float().contiguous()
    return ItemSide(
        Q, Q.bfloat16().T.contiguous(), float(torch.linalg.vector_norm(Q, dim=1).max()), bool(torch.isfinite(Q.sum()))
    )


def top_k_by_factors(
    user_factors: Tensor,
    item_factors: Tensor | ItemSide,
    users: np.ndarray,
    seen: sp.csr_matrix | None,
    relevant: sp.csr_matrix,
    k: int,
) -> tuple[Tensor, Tensor] | None:
    """``(top: long[B, k], hits: bool[B, k])``: the ``k`` unseen items with the largest ``P[b] @ Q.T``
    for user ``users[b]``, and whether each is relevant.

    ``seen`` and ``relevant`` are users x items CSR matrices: the items to leave out (or ``None``)
    and the held-out ones. Rows with fewer than ``k`` unseen items end with ``-1`` (not a hit).
    ``item_factors`` may be given as its :func:`item_side`, reused over batches. ``None`` when a
    factor, or the error bound, is not finite (the caller then ranks by
    ``score_all``, which reports such scores as they are).
    """
    from recframe.evaluation.approx_scores import approx_scores
    from recframe.kernels.topk import top_k_pruned

    items = item_factors if isinstance(item_factors, ItemSide) else item_side(item_factors)
    P = user_factors.detach().float().contiguous()
    if not (items.finite and torch.isfinite(P.sum())):  # any inf/NaN -> the float32 path
        return None
    approx = approx_scores(P, items.bf16_t, items.factors)  # bfloat16[B, n_items]
    slack = (2 * bf16_error_bound(P, items.factors, item_max_norm=items.max_norm)).numpy()
    if not np.isfinite(slack).all():  # norms beyond float32 (scores that overflow): the float32 path
        return None
    if seen is None:
        n_users = int(users.max()) + 1 if len(users) else 0
        seen_ptr, seen_items = np.zeros(n_users + 1, dtype=np.int32), np.zeros(0, dtype=np.int32)
    else:  # the CSR arrays as they are (int32 or int64): no copy per batch
        seen_ptr, seen_items = seen.indptr, seen.indices
    out = np.empty((len(users), k), dtype=np.int64)
    hits = np.empty((len(users), k), dtype=np.bool_)
    args = (
        approx.view(torch.int16).numpy().view(np.uint16),
        P.numpy(),
        items.factors.numpy(),
        slack.astype(np.float32),
        np.asarray(users, dtype=np.int64),
        seen_ptr,
        seen_items,
        relevant.indptr,
        relevant.indices,
        int(k),
    )
    blocks = max(1, min(torch.get_num_threads(), len(users) // MIN_ROWS_PER_THREAD))
    if blocks == 1:
        top_k_pruned(*args, 0, len(users), out, hits)
    else:  # the kernel releases the GIL: blocks of rows on threads, as many as torch uses
        bounds = np.linspace(0, len(users), blocks + 1).astype(int)
        list(_pool(blocks).map(lambda i: top_k_pruned(*args, bounds[i], bounds[i + 1], out, hits), range(blocks)))
    return torch.from_numpy(out), torch.from_numpy(hits)


@lru_cache(maxsize=4)
def _pool(threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="recframe-topk")
