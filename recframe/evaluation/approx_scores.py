"""The approximate scores of factor ranking, by whichever product this CPU runs faster.

:func:`recframe.evaluation.factor_ranking.top_k_by_factors` prunes with bfloat16 scores ``t`` and
a bound ``delta >= |t - P Q^T|``. Two products give such ``t``:

* ``bf16(P) @ bf16(Q).T`` with a bfloat16 output: about 8x the float32 speed on CPUs with AMX or
  AVX512-BF16 units, but emulated, and then many times slower than float32, elsewhere (on an AMD
  EPYC without them, ML-1M's 6,033 x 3,123 x 64 product took 12 s against 0.2 s in float32);
* ``bf16(P @ Q.T)``, the float32 product rounded to bfloat16, whose error (float32 summation plus
  one rounding) is within the same bound (:func:`~recframe.evaluation.factor_ranking.bf16_error_bound`
  also covers rounding both factors), so the pruning stays exact.

Which one runs is measured once per process on a small product (:func:`bf16_product_is_faster`);
``RECFRAME_BF16_PRODUCT=1`` or ``0`` fixes the choice.
"""

from __future__ import annotations

import os
import time
from functools import lru_cache

import torch
from torch import Tensor


@lru_cache(maxsize=1)
def bf16_product_is_faster() -> bool:
    """Whether a bfloat16 matrix product beats float32 on this CPU (best of 3 runs each, 512 x 64 x 4096)."""
    forced = os.environ.get("RECFRAME_BF16_PRODUCT")
    if forced in ("0", "1"):
        return forced == "1"
    gen = torch.Generator().manual_seed(0)
    p = torch.randn(512, 64, generator=gen)
    q = torch.randn(64, 4096, generator=gen)
    pb, qb = p.bfloat16(), q.bfloat16()

    def best(fn: object) -> float:
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            fn()  # type: ignore[operator]
            runs.append(time.perf_counter() - start)
        return min(runs)

    return best(lambda: pb @ qb) < best(lambda: (p @ q).bfloat16())


def approx_scores(user_factors: Tensor, item_bf16_t: Tensor, item_factors: Tensor) -> Tensor:
    """``bfloat16[B, n_items]`` scores within ``bf16_error_bound`` of ``P Q^T``.

    ``user_factors: float32[B, d]`` contiguous; ``item_bf16_t: bfloat16[d, n_items]`` and
    ``item_factors: float32[n_items, d]`` are the same ``Q``.
    """
    if bf16_product_is_faster():
        return user_factors.bfloat16() @ item_bf16_t
    return (user_factors @ item_factors.T).bfloat16()
