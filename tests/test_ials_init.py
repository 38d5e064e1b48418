"""iALS starting factors: ``init=normal`` (the default, unchanged) and ``init=uniform`` (implicit's draw)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recframe.errors import ConfigError


def _info(n_users: int = 13, n_items: int = 21):
    from recframe.api import DatasetInfo, Interactions

    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(n_users), 4)
    items = rng.integers(0, n_items, len(users))
    train = Interactions(user=users, item=items, n_users=n_users, n_items=n_items)
    return DatasetInfo(n_users, n_items, train, np.bincount(items, minlength=n_items)), train


def test_uniform_init_draws_what_implicit_draws_from_the_same_seed():
    """implicit 0.7.3 (``implicit/cpu/als.py``, ``fit``): ``rng = np.random.default_rng(random_state)``,
    then ``rng.random((users, factors), dtype) * 0.01`` and the same for items, in that order."""
    from recframe_cf.ials import IALS

    info, _ = _info()
    model = IALS(info, embedding_dim=5, init="uniform", init_std=0.01, seed=7)
    rng = np.random.default_rng(7)
    users = rng.random((13, 5), dtype=np.float32) * np.float32(0.01)
    items = rng.random((21, 5), dtype=np.float32) * np.float32(0.01)
    assert model.user_factors.dtype == torch.float32
    np.testing.assert_array_equal(model.user_factors.numpy(), users)
    np.testing.assert_array_equal(model.item_factors.numpy(), items)
    assert float(model.user_factors.min()) >= 0.0 and float(model.item_factors.max()) < 0.01
    other = IALS(info, embedding_dim=5, init="uniform", seed=8)
    assert not torch.equal(other.user_factors, model.user_factors)


def test_the_default_init_is_the_normal_draw_it_always_was():
    """``init`` defaults to ``normal``: the factors of every earlier iALS run are unchanged."""
    from recframe_cf.ials import IALS

    info, _ = _info()
    model = IALS(info, embedding_dim=6, init_std=0.02, seed=3)
    gen = torch.Generator().manual_seed(3)
    assert torch.equal(model.user_factors, torch.randn(13, 6, generator=gen) * 0.02)
    assert torch.equal(model.item_factors, torch.randn(21, 6, generator=gen) * 0.02)


def test_both_inits_fit_to_factors_that_lower_the_objective():
    from recframe_cf.ials import IALS

    info, train = _info()
    x = train.to_csr().toarray() > 0

    def objective(m: IALS) -> float:
        u, v = m.user_factors.double().numpy(), m.item_factors.double().numpy()
        conf = 1.0 + m.alpha * x
        return float((conf * (x - u @ v.T) ** 2).sum() + m.reg * ((u**2).sum() + (v**2).sum()))

    for init in ("normal", "uniform"):
        model = IALS(info, embedding_dim=4, iterations=3, reg_weight=0.5, init=init, seed=1)
        start = objective(model)
        model.fit(train)
        assert objective(model) < 0.5 * start, init


def test_an_unknown_init_is_a_one_line_config_error():
    from recframe.factory import build
    from recframe_cf.ials import IALS

    info, _ = _info()
    with pytest.raises(ConfigError) as err:
        build(IALS, "model", "ials", {"init": "gaussian"}, info)
    message = str(err.value)
    assert "\n" not in message and "ials" in message and "'gaussian'" in message
    assert "normal" in message and "uniform" in message
