"""Gradient explainers of Mult-VAE over the user's history row (ML-100K, random weights: exactness needs
no training), checked against brute-force oracles: the model's own ``score_all`` with the history matrix
edited, central finite differences in float64, and the score change to an empty history."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from recframe.explain.choose import choose_explainer
from tests.explain.conftest import info_from, randomised

USERS = [0, 7, 42, 300]


@pytest.fixture(scope="module")
def multvae(ml100k_saved):
    from recframe_cf.multvae import MultVAE

    return randomised(MultVAE(info_from(ml100k_saved), hidden_sizes=(32,), latent_dim=8), std=0.2)


def scores_with_row(model, user: int, items: np.ndarray) -> np.ndarray:
    """``float64[n_items]``: the model's own ``score_all(user)`` with the user's history row replaced by ``items``."""
    saved = model.history
    edited = saved.tolil(copy=True)
    edited.rows[user] = sorted(int(i) for i in items)
    edited.data[user] = [1.0] * len(items)
    try:
        model.history = edited.tocsr()
        with torch.no_grad():
            return model.score_all(torch.tensor([user]))[0].double().numpy()
    finally:
        model.history = saved


def test_auto_picks_gradient_input_for_multvae_and_rejects_ease_for_row_explainers(multvae, closed_form_run):
    import recframe
    from recframe.errors import ConfigError

    name, explainer = choose_explainer(multvae, "multvae")
    assert name == "row_gradient_input" and not explainer.exact
    ease = recframe.load(closed_form_run("ease")).model
    expected = "'row_integrated_gradients' does not support model 'ease'.*supports: multvae"
    with pytest.raises(ConfigError, match=expected):
        choose_explainer(ease, "ease", "row_integrated_gradients")


def test_rescoring_is_the_models_own_score_for_the_shorter_history(multvae):
    _, explainer = choose_explainer(multvae, "multvae")
    for user in USERS:
        history = explainer.units(multvae, user)
        np.testing.assert_allclose(
            explainer.rescore(multvae, user, []).numpy(), scores_with_row(multvae, user, history), rtol=1e-5, atol=1e-6
        )
        removals = [[], history[:1].tolist(), history[1:4].tolist(), history[::2].tolist()]
        batched = explainer.rescore_many(multvae, user, removals).numpy()
        for row, removed in zip(batched, removals, strict=True):
            kept = np.setdiff1d(history, removed)
            np.testing.assert_allclose(row, scores_with_row(multvae, user, kept), rtol=1e-5, atol=1e-6)


def test_gradient_times_input_equals_central_differences(multvae):
    """``h_j * d s_i / d h_j`` against ``h_j * (s(h + e) - s(h - e)) / 2e`` computed in float64."""
    _, explainer = choose_explainer(multvae, "multvae", "row_gradient_input")
    exact = copy.deepcopy(multvae).double()
    eps = 1e-6
    for user in USERS[:3]:
        history = explainer.units(multvae, user)
        items = torch.tensor([3, 50, 400])
        weights = explainer.item_weights(multvae, user, items)
        assert weights.shape == (3, len(history))
        h = explainer.inputs(multvae, user).double()
        for col, j in list(enumerate(history.tolist()))[:6]:
            up, down = h.clone(), h.clone()
            up[j] += eps
            down[j] -= eps
            with torch.no_grad():
                diff = (exact.score_rows(up.unsqueeze(0)) - exact.score_rows(down.unsqueeze(0)))[0] / (2 * eps)
            expected = (h[j] * diff[items]).numpy()
            np.testing.assert_allclose(weights[:, col], expected, rtol=2e-3, atol=1e-6)
        reasons = explainer.explain(multvae, user, items, k_reasons=4)
        for row, why in zip(weights, reasons, strict=True):
            assert [r.weight for r in why] == pytest.approx(sorted(row, reverse=True)[:4])
            assert all(r.item in set(history.tolist()) and r.unit == r.item for r in why)


@pytest.mark.parametrize("use_captum", [True, False])
def test_integrated_gradients_sum_to_the_score_change_from_an_empty_history(multvae, monkeypatch, use_captum):
    from recframe.explain import integrated

    if not use_captum:
        monkeypatch.setattr(integrated, "captum_available", lambda: False)
    _, explainer = choose_explainer(multvae, "multvae", "row_integrated_gradients")
    explainer.steps = 128
    for user in USERS:
        history = explainer.units(multvae, user)
        full = scores_with_row(multvae, user, history)
        empty = scores_with_row(multvae, user, np.array([], dtype=np.int64))
        items = torch.as_tensor(np.argsort(-full)[:3])
        weights = explainer.item_weights(multvae, user, items)
        assert weights.shape == (3, len(history))
        for row, i in zip(weights, items.tolist(), strict=True):
            change = full[i] - empty[i]
            assert row.sum() == pytest.approx(change, abs=2e-3 * max(1.0, abs(change)))
            assert np.abs(row).max() > 0
