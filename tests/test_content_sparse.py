"""Sparse TF-IDF: the CSR products equal the dense ones, content kNN on text equals brute force, and the
ML-1M title matrix is small."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from recframe.data.interactions import Interactions
from recframe.models import DatasetInfo
from recframe_content import representations as rep
from recframe_content.knn import ContentKNN
from recframe_content.linear import ContentLinear
from recframe_content.sparse_rows import ContentRows


def random_csr(rng: np.random.Generator, n: int, d: int, density: float) -> sp.csr_matrix:
    x = sp.random(n, d, density=density, format="csr", dtype=np.float32, random_state=rng)
    keep = np.ones(n, dtype=np.float32)
    keep[3] = 0.0  # an empty row
    x = sp.csr_matrix(sp.diags(keep) @ x)
    x.eliminate_zeros()
    return x


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sparse_rows_project_and_gather_equal_the_dense_products(seed):
    rng = np.random.default_rng(seed)
    x = random_csr(rng, 20, 13, 0.2)
    dense = torch.from_numpy(x.toarray())
    content = ContentRows(x)
    assert content.is_sparse and content.val.numel() == x.nnz
    weight = torch.randn(5, 13, requires_grad=True)
    rows = torch.from_numpy(rng.integers(0, 20, size=(4, 6)))  # any index shape, repeats included
    out = content.project(rows, weight)
    expected = dense[rows] @ weight.T
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
    (grad,) = torch.autograd.grad(out.square().sum(), weight)
    (expected_grad,) = torch.autograd.grad(expected.square().sum(), weight)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(content.project(None, weight), dense @ weight.T, rtol=1e-5, atol=1e-6)
    flat = rows.reshape(-1)
    torch.testing.assert_close(content.dense(flat), dense[flat])


def test_sparse_rows_load_a_state_dict_of_another_size():
    rng = np.random.default_rng(0)
    saved = ContentRows(random_csr(rng, 10, 7, 0.3), persistent=True)
    fresh = ContentRows(sp.csr_matrix((10, 7), dtype=np.float32), persistent=True)
    fresh.load_state_dict(saved.state_dict())
    torch.testing.assert_close(fresh.dense(torch.arange(10)), saved.dense(torch.arange(10)))


def _text_info() -> tuple[DatasetInfo, Interactions]:
    titles = [
        "Toy Story",
        "Story of Toys",
        "The Matrix",
        "Matrix Reloaded",
        "Heat",
        "Toy Soldiers",
        "The Heat Is On",
        "",
        "Reloaded Story",
    ]
    rng = np.random.default_rng(3)
    n_users, n_items = 6, len(titles)
    features = pd.DataFrame({"item": np.arange(n_items), "title": titles})
    user = rng.integers(0, n_users, 25)
    item = rng.integers(0, n_items, 25)
    data = Interactions(
        user=user,
        item=item,
        n_users=n_users,
        n_items=n_items,
        user_ids=np.arange(n_users),
        item_ids=np.arange(n_items),
        item_features=features,
    )
    return DatasetInfo(n_users, n_items, data, np.bincount(item, minlength=n_items)), data


def test_content_knn_on_sparse_text_matches_brute_force():
    info, data = _text_info()
    model = ContentKNN(info, representation="text")
    assert model.sparse
    model.fit(data)
    scores = model.score_all(torch.arange(info.n_users)).numpy()
    x = rep.tfidf(rep.item_texts(data.item_features))[0].toarray().astype(np.float64)
    for u in range(info.n_users):
        items = sorted(set(data.item[data.user == u].tolist()))
        profile = x[items].mean(axis=0) if items else np.zeros(x.shape[1])
        norm = np.linalg.norm(profile)
        expected = x @ (profile / norm) if norm > 0 else np.zeros(info.n_items)
        np.testing.assert_allclose(scores[u], expected, atol=1e-5)
    restored = ContentKNN(info, representation="text")
    restored.load_state_dict(model.state_dict())
    np.testing.assert_allclose(restored.score_all(torch.arange(info.n_users)).numpy(), scores)


def test_content_linear_on_text_equals_its_dense_twin():
    info, _ = _text_info()
    torch.manual_seed(0)
    sparse_model = ContentLinear(info, representation="text", embedding_dim=4)
    torch.manual_seed(0)
    dense_model = ContentLinear(info, representation="text", embedding_dim=4)
    dense_model.content = ContentRows(rep.item_representation(info.train.item_features, "text").toarray())
    torch.nn.init.normal_(sparse_model.item_bias.weight)
    dense_model.item_bias.weight.data.copy_(sparse_model.item_bias.weight.data)
    users = torch.arange(info.n_users)
    torch.testing.assert_close(sparse_model.score_all(users), dense_model.score_all(users), rtol=1e-5, atol=1e-6)
    items = torch.tensor([0, 7, 8, 2, 2, 5])
    torch.testing.assert_close(sparse_model.score(users, items), dense_model.score(users, items), rtol=1e-5, atol=1e-6)


def test_ml1m_title_tfidf_is_sparse_and_small(data_dir):
    movies = pd.read_csv(
        data_dir / "ml-1m" / "movies.dat",
        sep="::",
        engine="python",
        header=None,
        names=["item", "title", "genres"],
        encoding="latin-1",
    )
    x, vocab = rep.tfidf(movies["title"].tolist())
    dense_bytes = x.shape[0] * x.shape[1] * 4
    sparse_bytes = x.data.nbytes + x.indices.nbytes + x.indptr.nbytes
    assert x.shape == (3883, len(vocab)) and len(vocab) > 4000
    assert sparse_bytes * 100 < dense_bytes  # dense float32 would be ~100x larger or more
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    np.testing.assert_allclose(norms[norms > 0], 1.0, rtol=1e-5)
