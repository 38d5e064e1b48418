"""Both approximate products of factor ranking: within the error bound, and the ranking stays exact."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recframe import kernels
from recframe.evaluation import approx_scores as approx_module
from recframe.evaluation.factor_ranking import bf16_error_bound, item_side, top_k_by_factors

from .test_factor_ranking import factors, ml100k_parts, oracle_top  # noqa: F401 - the fixture is used by name


@pytest.fixture(params=["1", "0"], ids=["bf16-product", "float32-product"])
def product(request, monkeypatch):
    monkeypatch.setenv("RECFRAME_KERNELS", "1")
    monkeypatch.setenv("RECFRAME_BF16_PRODUCT", request.param)
    approx_module.bf16_product_is_faster.cache_clear()
    assert kernels.available(), "numba is part of the dev install (recframe[fast])"
    yield request.param
    approx_module.bf16_product_is_faster.cache_clear()


def test_the_choice_follows_the_environment(product):
    assert approx_module.bf16_product_is_faster() is (product == "1")


@pytest.mark.parametrize("d", [1, 16, 64, 300])
def test_approximate_scores_are_within_the_bound(product, d):
    g = torch.Generator().manual_seed(d)
    P = (torch.randn(300, d, generator=g) * torch.rand(300, 1, generator=g) * 10).contiguous()
    Q = torch.randn(500, d, generator=g).pow(3)  # heavy tails: a few large coordinates
    side = item_side(Q)
    approx = approx_module.approx_scores(P, side.bf16_t, side.factors)
    assert approx.dtype == torch.bfloat16 and approx.shape == (300, 500)
    exact = P.double() @ Q.double().T
    ratio = (approx.double() - exact).abs() / bf16_error_bound(P, Q).double().unsqueeze(1)
    assert ratio.max() <= 1.0
    assert ratio.max() > 1e-4  # it is an approximation: the bound is what makes the ranking exact


@pytest.mark.parametrize("d,scale,k", [(64, 1.0, 10), (7, 30.0, 20)])
def test_top_k_is_exact_whichever_product_runs(product, ml100k_parts, d, scale, k):  # noqa: F811
    seen, relevant = ml100k_parts
    P, Q = factors(seen.shape[0], seen.shape[1], d, scale, seed=d + 1)
    users = np.arange(seen.shape[0])
    top, _ = top_k_by_factors(P, Q, users, seen, relevant, k)
    np.testing.assert_array_equal(top.numpy(), oracle_top(P.numpy(), Q.numpy(), users, seen, k))
