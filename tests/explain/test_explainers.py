"""Built-in explainers on ML-100K: exact explainers' weights sum to the model's own score (checked
against brute-force sums written here), gradient baselines satisfy completeness, re-scoring without
units equals an independent recomputation, and an unsupported model is a one-line error."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import recframe
from recframe.errors import ConfigError, PluginError
from recframe.explain.choose import choose_explainer

USERS = [0, 7, 42, 300]


def loaded(closed_form_run, model: str):
    handle = recframe.load(closed_form_run(model))
    handle.model.eval()
    return handle


@pytest.mark.parametrize("model", ["ease", "itemknn"])
def test_item_weights_sum_to_the_model_score_and_match_x_times_w(closed_form_run, model):
    handle = loaded(closed_form_run, model)
    name, explainer = choose_explainer(handle.model, model)
    assert name == "item_weights" and explainer.exact
    m = handle.model
    w = m.item_weights.numpy() if model == "ease" else m.weights.toarray()
    for user in USERS:
        row = m.history[user]
        scores = m.score_all(torch.tensor([user]))[0].double().numpy()
        items = torch.as_tensor(np.argsort(-scores)[:5])
        reasons = explainer.explain(m, user, items, k_reasons=row.nnz)
        for i, why in zip(items.tolist(), reasons, strict=True):
            assert len(why) == row.nnz  # every history item, once
            assert sum(r.weight for r in why) == pytest.approx(scores[i], rel=1e-4, abs=1e-5)
            assert [r.weight for r in why] == sorted((r.weight for r in why), reverse=True)
            for r in why[:3]:  # brute force: x_uj * W[j, i]
                assert r.weight == pytest.approx(row[0, r.item] * w[r.item, i], rel=1e-4, abs=1e-6)
        removed = row.indices[:3].tolist()
        dense = row.toarray()[0].astype(np.float64)
        dense[removed] = 0.0
        np.testing.assert_allclose(explainer.rescore(m, user, removed).numpy(), dense @ w, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("model", ["ials"])
def test_factor_weights_sum_to_the_fold_in_score(closed_form_run, model):
    handle = loaded(closed_form_run, model)
    m = handle.model
    name, explainer = choose_explainer(m, model)
    assert name == "factor_fold_in"
    train = handle.saved.train.to_csr()
    train.data[:] = 1.0
    explainer.use_history(train)
    q = m.item_factors.double().numpy()
    for user in USERS:
        hist = np.unique(train[user].indices)
        # the least-squares user step, written out: (Q^T Q + alpha Q_h^T Q_h + reg I) p = (1 + alpha) Q_h^T 1
        a = q.T @ q + m.alpha * q[hist].T @ q[hist] + m.reg * np.eye(q.shape[1])
        folded = q @ np.linalg.solve(a, (1 + m.alpha) * q[hist].sum(0))
        items = torch.as_tensor(np.argsort(-folded)[:4])
        for i, why in zip(items.tolist(), explainer.explain(m, user, items, k_reasons=len(hist)), strict=True):
            assert sum(r.weight for r in why) == pytest.approx(folded[i], rel=1e-6, abs=1e-8)
            assert {r.item for r in why} == set(hist.tolist())
        kept = hist[2:]
        a2 = q.T @ q + m.alpha * q[kept].T @ q[kept] + m.reg * np.eye(q.shape[1])
        expected = q @ np.linalg.solve(a2, (1 + m.alpha) * q[kept].sum(0))
        np.testing.assert_allclose(
            explainer.rescore(m, user, hist[:2].tolist()).numpy(), expected, rtol=1e-5, atol=1e-6
        )


def test_fm_field_contributions_sum_to_the_logit(torch_models):
    fm = torch_models["fm"]
    name, explainer = choose_explainer(fm, "fm")
    assert name == "fm_fields" and explainer.exact
    items = torch.tensor([0, 5, 99])
    for user in USERS:
        reasons = explainer.explain(fm, user, items, k_reasons=fm.n_fields)
        logits = fm.score(torch.full_like(items, user), items).double()
        for j, why in enumerate(reasons):
            assert len(why) == fm.n_fields
            total = sum(r.weight for r in why) + float(fm.linear.bias.detach())
            assert total == pytest.approx(float(logits[j]), rel=1e-5, abs=1e-5)
            assert {r.field for r in why} == {f.name for f in fm.tables.fields}


def test_integrated_gradients_on_fm_equal_the_exact_split(torch_models):
    """FM's pairwise part is quadratic along the straight path, so its integrated gradients are exactly
    ``1/2 <v_f, sum_{g != f} v_g>``: the gradient baseline and the closed form check each other."""
    from recframe_context.explain_fields import FieldIntegratedGradients, FMFieldExplainer

    fm = torch_models["fm"]
    exact, ig = FMFieldExplainer(), FieldIntegratedGradients()
    for user in USERS[:2]:
        slots = exact.pair_slots(fm, user, torch.tensor([3]))[0]
        np.testing.assert_allclose(
            ig.contributions(fm, slots).numpy(), exact.contributions(fm, slots).numpy(), atol=1e-4
        )


def test_integrated_gradients_are_complete_on_deepfm(torch_models):
    deepfm = torch_models["deepfm"]
    name, explainer = choose_explainer(deepfm, "deepfm")
    assert name == "field_integrated_gradients"
    explainer.steps = 256  # the integration error shrinks with the steps (ReLU layers: piecewise linear)
    for user in USERS[:2]:
        item = torch.tensor([10])
        slots = explainer.pair_slots(deepfm, user, item)[0]
        attr = explainer.contributions(deepfm, slots)
        v0 = torch.zeros(1, deepfm.n_fields, deepfm.embedding_dim)
        with torch.no_grad():
            at_baseline = float(deepfm.combine(v0, torch.zeros(1))) + float(deepfm.linear.bias)
            logit = float(deepfm.score(torch.tensor([user]), item))
        assert float(attr.sum()) + at_baseline == pytest.approx(logit, abs=5e-3 * max(1.0, abs(logit)))


def test_field_rescore_pads_the_removed_fields(torch_models):
    fm = torch_models["fm"]
    _, explainer = choose_explainer(fm, "fm")
    user = 7
    with torch.no_grad():
        np.testing.assert_allclose(
            explainer.rescore(fm, user, []).numpy(), fm.score_all(torch.tensor([user]))[0].numpy(), rtol=1e-5, atol=1e-5
        )
        removed = [0, 2]
        items = torch.arange(fm.n_items)
        slots = fm.slots(torch.full_like(items, user), items)
        drop = torch.isin(fm.embed.pool.argmax(1), torch.tensor(removed))
        slots[:, drop] = fm.embed.pad
        np.testing.assert_allclose(explainer.rescore(fm, user, removed).numpy(), fm.logits(slots).numpy(), atol=1e-5)


def test_sasrec_explainers(torch_models):
    sasrec = torch_models["sasrec"]
    name, explainer = choose_explainer(sasrec, "sasrec")
    assert name == "gradient_input"
    _, attention = choose_explainer(sasrec, "sasrec", "attention")
    _, ig = choose_explainer(sasrec, "sasrec", "integrated_gradients")
    user = 42
    window = explainer.window(sasrec, user)
    with torch.no_grad():
        full = sasrec.score_all(torch.tensor([user]))[0].double()
    np.testing.assert_allclose(explainer.rescore(sasrec, user, []).numpy(), full.numpy(), rtol=1e-4, atol=1e-5)
    items = torch.tensor([1, 50])
    for why in explainer.explain(sasrec, user, items, k_reasons=3):
        assert len(why) == 3 and all(r.item == int(window[r.unit]) for r in why)
    att = attention.position_weights(sasrec, user, items)
    assert att.shape == (2, len(window)) and np.allclose(att.sum(1), 1.0, atol=1e-5) and (att >= 0).all()
    # completeness of integrated gradients: the attributions sum to s(i) - s(i | zero item embeddings)
    attr = ig.position_weights(sasrec, user, items)
    seq = explainer._sequence(sasrec, window)
    handle = sasrec.item_embedding.register_forward_hook(lambda _m, _i, out: torch.zeros_like(out))
    try:
        with torch.no_grad():
            base = (sasrec.encode(seq)[:, -1, :] @ sasrec.item_weights().T)[0].double()
    finally:
        handle.remove()
    for j, i in enumerate(items.tolist()):
        assert attr[j].sum() == pytest.approx(float(full[i] - base[i]), abs=0.05 * max(1.0, abs(float(full[i]))))
    # removing a position re-encodes the shorter window, as the model's own fold-in of that history
    np.testing.assert_allclose(
        explainer.rescore(sasrec, user, [0]).numpy(),
        sasrec.fold_in(torch.as_tensor(window[1:])).detach().double().numpy(),
        rtol=1e-4,
        atol=1e-5,
    )


def test_an_unsupported_model_is_one_line_naming_both_and_the_supported_models(closed_form_run):
    handle = loaded(closed_form_run, "ease")
    with pytest.raises(ConfigError) as err:
        choose_explainer(handle.model, "ease", "fm_fields")
    message = str(err.value)
    assert "\n" not in message and "'fm_fields'" in message and "'ease'" in message and "supports: fm" in message
    with pytest.raises(PluginError, match="unknown explainer 'fm_feilds'.*did you mean 'fm_fields'"):
        choose_explainer(handle.model, "ease", "fm_feilds")


@pytest.mark.parametrize("use_captum", [True, False])
def test_integrated_gradients_of_a_cubic_are_its_terms(monkeypatch, use_captum):
    """``f(x) = sum_i c_i x_i^3`` from a zero baseline: IG_i = c_i x_i^3 exactly (Captum's Gauss-Legendre
    rule and recframe's own midpoint rule, the latter to within its O(1/steps^2) error)."""
    from recframe.explain import integrated

    if not use_captum:
        monkeypatch.setattr(integrated, "captum_available", lambda: False)
    c = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64)
    x = torch.tensor([0.7, 1.1, -1.3, 0.2], dtype=torch.float64)
    attr = integrated.integrated_gradients(lambda v: (c * v**3).sum(-1), x, steps=64)
    np.testing.assert_allclose(attr.numpy(), (c * x**3).numpy(), rtol=1e-3, atol=1e-6)


def test_content_terms_sum_to_the_content_knn_score(ml100k_saved):
    from recframe_content.knn import ContentKNN
    from tests.explain.conftest import info_from

    model = ContentKNN(info_from(ml100k_saved))
    model.fit(ml100k_saved.train)
    name, explainer = choose_explainer(model, "content_knn")
    assert name == "content_terms" and explainer.exact
    x = model.item_vectors.double().numpy()
    for user in USERS:
        scores = model.score_all(torch.tensor([user]))[0].double().numpy()
        items = torch.as_tensor(np.argsort(-scores)[:3])
        n_terms = len(explainer.units(model, user))
        for i, why in zip(items.tolist(), explainer.explain(model, user, items, k_reasons=n_terms), strict=True):
            assert sum(r.weight for r in why) == pytest.approx(scores[i], rel=1e-5, abs=1e-6)
            top = why[0]
            assert top.term in model.term_names and x[i, model.term_names.index(top.term)] > 0
        profile = model.profiles[user].double().numpy().copy()
        drop = explainer.units(model, user)[:2]
        profile[drop] = 0.0
        np.testing.assert_allclose(explainer.rescore(model, user, drop.tolist()).numpy(), x @ profile, atol=1e-6)


def test_neighbour_users_sum_to_the_userknn_score(closed_form_run, ml100k_saved):
    from recframe_cf.userknn import UserKNN
    from tests.explain.conftest import info_from

    model = UserKNN(info_from(ml100k_saved), k=50)
    model.fit(ml100k_saved.train)
    name, explainer = choose_explainer(model, "userknn")
    assert name == "neighbour_users" and explainer.exact
    s, x = model.user_weights.toarray().astype(np.float64), model.history.toarray().astype(np.float64)
    for user in USERS:
        scores = s[user] @ x
        items = torch.as_tensor(np.argsort(-scores)[:3])
        # every neighbour's term: a user's row holds the users that count it among their k nearest,
        # which can be more than k
        everyone = model.n_users
        for i, why in zip(items.tolist(), explainer.explain(model, user, items, k_reasons=everyone), strict=True):
            assert sum(r.weight for r in why) == pytest.approx(scores[i], rel=1e-5, abs=1e-6)
            assert all(r.weight == pytest.approx(s[user, r.user] * x[r.user, i], abs=1e-7) for r in why)
        drop = explainer.units(model, user)[:3]
        s2 = s[user].copy()
        s2[drop] = 0.0
        np.testing.assert_allclose(explainer.rescore(model, user, drop.tolist()).numpy(), s2 @ x, rtol=1e-5, atol=1e-6)
