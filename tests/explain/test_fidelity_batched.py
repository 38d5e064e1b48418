"""The batched deletion test (one ``rescore_many`` call per user) gives the same fidelity numbers as
re-scoring one deletion at a time, for every model family with a batched scorer (ML-100K), and an
explainer without one falls back to its ``rescore`` loop."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
import torch

import recframe
from recframe.explain.choose import choose_explainer
from recframe.explain.fidelity import FidelityProtocol, deletion_curve, sample_users
from tests.explain.conftest import info_from, randomised

PROTOCOL = FidelityProtocol(sample_users=15, seed=3, cutoffs=(1, 3, 5), random_draws=3)


def both_curves(explainer: Any, model: Any, users: np.ndarray, seen: Any) -> tuple[Any, Any]:
    batched = deletion_curve(explainer, model, users, seen, PROTOCOL, batched=True)
    looped = deletion_curve(explainer, model, users, seen, PROTOCOL, batched=False)
    return batched, looped


def assert_same(batched: Any, looped: Any) -> None:
    assert batched.reasons == looped.reasons and batched.random == looped.random
    assert batched.skipped == looped.skipped
    assert batched.summary() == looped.summary()
    assert batched.summary()["users"] > 0


def check_rows(explainer: Any, model: Any, user: int, removals: Sequence[Sequence[int]], tol: float) -> None:
    many = explainer.rescore_many(model, user, removals)
    assert many.shape == (len(removals), model.n_items) and many.dtype == torch.float64
    for row, removed in zip(many, removals, strict=True):
        one = explainer.rescore(model, user, list(removed)).double()
        np.testing.assert_allclose(row.numpy(), one.numpy(), rtol=tol, atol=tol)


def variants(explainer: Any, model: Any, user: int) -> list[list[int]]:
    units = explainer.units(model, user).tolist()
    return [[], units[:1], units[1:4], units[::3], units]  # the last one removes every unit


@pytest.mark.parametrize(
    ("model", "explainer_name"),
    [("ease", "item_weights"), pytest.param("ials", "factor_fold_in", marks=pytest.mark.slow)],
)
def test_closed_form_models_give_the_same_curve_batched(closed_form_run, model, explainer_name):
    handle = recframe.load(closed_form_run(model))
    m = handle.model.eval()
    name, explainer = choose_explainer(m, model)
    assert name == explainer_name
    train = handle.saved.train.to_csr()
    train.data[:] = 1.0
    explainer.use_history(train)
    users = sample_users(np.arange(m.n_users), PROTOCOL.sample_users, PROTOCOL.seed)
    assert_same(*both_curves(explainer, m, users, handle.seen))
    for user in users[:3].tolist():
        check_rows(explainer, m, user, variants(explainer, m, user), 1e-9)


@pytest.fixture(scope="module")
def torch_family(ml100k_saved, torch_models):
    from recframe_cf.multvae import MultVAE

    info = info_from(ml100k_saved)
    multvae = randomised(MultVAE(info, hidden_sizes=(32,), latent_dim=8), std=0.2)
    seen = ml100k_saved.train.to_csr()
    return {**torch_models, "multvae": multvae}, seen


@pytest.mark.parametrize(
    ("model", "explainer_name"),
    [
        ("multvae", "row_gradient_input"),
        # the loop path re-scores every item pair or window per deletion (~15-90 s each on a loaded 2-core machine)
        pytest.param("sasrec", "gradient_input", marks=pytest.mark.slow),
        pytest.param("fm", "fm_fields", marks=pytest.mark.slow),
        pytest.param("deepfm", "field_integrated_gradients", marks=pytest.mark.slow),
    ],
)
def test_torch_models_give_the_same_curve_batched(torch_family, model, explainer_name):
    models, seen = torch_family
    m = models[model]
    name, explainer = choose_explainer(m, model)
    assert name == explainer_name
    users = sample_users(np.arange(m.n_users), PROTOCOL.sample_users, PROTOCOL.seed)
    assert_same(*both_curves(explainer, m, users, seen))
    for user in users[:2].tolist():  # float32 models: the batch may round its last bit differently
        check_rows(explainer, m, user, variants(explainer, m, user), 2e-5)


def test_an_explainer_without_a_batched_scorer_falls_back_to_its_rescore_loop(closed_form_run):
    from recframe_cf.explain_item_weights import ItemWeightsExplainer

    class OnlyRescore(ItemWeightsExplainer):
        calls = 0

        def rescore(self, model, user, removed):
            OnlyRescore.calls += 1
            return super().rescore(model, user, removed)

    OnlyRescore.rescore_many = recframe.api.Explainer.rescore_many  # the base class's loop
    handle = recframe.load(closed_form_run("ease"))
    users = np.array([3, 11, 60])
    explainer = OnlyRescore()
    batched = deletion_curve(explainer, handle.model, users, handle.seen, PROTOCOL, batched=True)
    # per user: the base scores, then (1 + random_draws) removals per cut-off, each one rescore
    assert OnlyRescore.calls == len(users) * (1 + len(PROTOCOL.cutoffs) * (1 + PROTOCOL.random_draws))
    _, exact = choose_explainer(handle.model, "ease")
    assert_same(batched, deletion_curve(exact, handle.model, users, handle.seen, PROTOCOL, batched=True))
