"""Fold-in through the models' own ``fold_in`` (Pop, iALS, content kNN) and the generic strategies serving
picks from the declared API, each against an independent computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from recframe.data.interactions import Interactions
from recframe.errors import ConfigError
from recframe.models import DatasetInfo
from recframe.plugins import registries
from recframe.serving.foldin import fold_in_kind, fold_in_scores


def toy(n_users: int = 30, n_items: int = 25, seed: int = 0) -> tuple[DatasetInfo, Interactions]:
    rng = np.random.default_rng(seed)
    dense = rng.random((n_users, n_items)) < 0.3
    dense[np.arange(n_users), rng.integers(0, n_items, n_users)] = True
    users, items = np.nonzero(dense)
    genres = [["A", "B", "C", "D"][i % 4] + ("|B" if i % 3 == 0 else "") for i in range(n_items)]
    features = pd.DataFrame(
        {
            "item": np.arange(n_items),
            "title": [f"t{i}" for i in range(n_items)],
            "year": pd.array([1980 + i for i in range(n_items)], dtype="Int64"),
            "genres": genres,
        }
    )
    data = Interactions(
        user=users,
        item=items,
        n_users=n_users,
        n_items=n_items,
        user_ids=np.arange(n_users),
        item_ids=np.arange(n_items),
        item_features=features,
    )
    return DatasetInfo(n_users, n_items, data, np.bincount(items, minlength=n_items)), data


def fitted(name: str, **params):
    info, data = toy()
    model = registries().model.get(name)(info, **params)
    if model.trainable:
        model.set_history(data)
    else:
        model.fit(data)
    return model.eval(), data


def test_pop_folds_in_to_its_popularity_row():
    model, data = fitted("pop")
    assert fold_in_kind(model) == "model"
    scores = fold_in_scores(model, np.array([3, 1]), "pop")
    assert torch.equal(scores, torch.from_numpy(np.bincount(data.item, minlength=data.n_items).astype(np.float32)))


def test_ials_folds_in_with_its_own_alpha_and_regularisation():
    model, _ = fitted("ials", embedding_dim=6, iterations=3, alpha=4.0, reg_weight=0.7)
    assert fold_in_kind(model) == "model"
    history = np.array([2, 5, 11])
    y = model.item_factors.double().numpy()
    c = np.ones(len(y))
    c[history] += 4.0
    p = np.zeros(len(y))
    p[history] = 1.0
    x = np.linalg.solve(y.T @ (c[:, None] * y) + 0.7 * np.eye(6), y.T @ (c * p))
    assert np.allclose(fold_in_scores(model, history, "ials").numpy(), y @ x, atol=1e-5)


def test_content_knn_fold_in_of_a_known_users_items_gives_their_scores():
    model, data = fitted("content_knn", representation="attributes")
    assert fold_in_kind(model) == "model"
    for u in (0, 7, 19):
        items = data.item[data.user == u]
        own = model.score_all(torch.tensor([u]))[0]
        assert torch.allclose(fold_in_scores(model, np.concatenate([items, items[:1]]), "content_knn"), own, atol=1e-5)
    q = model.serving_factors(torch.tensor([0]))[1]
    assert q is model.item_vectors


def test_generic_fold_in_uses_the_declared_history_or_factors():
    ease, data = fitted("ease")
    assert fold_in_kind(ease) == "history_row"
    u = 4
    assert torch.allclose(
        fold_in_scores(ease, data.item[data.user == u], "ease"), ease.score_all(torch.tensor([u]))[0].float(), atol=1e-5
    )
    assert ease.history.shape == (data.n_users, data.n_items)  # the model's own rows are put back
    bpr, _ = fitted("bpr")
    assert fold_in_kind(bpr) == "least_squares"
    assert fold_in_scores(bpr, np.array([1, 2]), "bpr").shape == (data.n_items,)


def test_a_model_without_a_way_to_fold_in_is_a_one_line_error():
    model, _ = fitted("pop")
    model.fold_in = lambda items: None  # as a model that declares nothing of its own
    with pytest.raises(ConfigError, match="model 'pop' cannot fold in a new history") as info:
        fold_in_scores(model, np.array([1]), "pop")
    assert "\n" not in str(info.value)
