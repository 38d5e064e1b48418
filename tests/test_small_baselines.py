"""The small baselines (kNN options, P3alpha, RP3beta, SLIM, PureSVD) against brute-force dense oracles."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from recframe.data.interactions import Interactions
from recframe.models import DatasetInfo, count_parameters, model_bytes
from recframe.plugins import registries
from recframe_cf.p3alpha import column_top_k, row_walk_weights
from recframe_cf.similarity import topk_similarity, weight_features


def rated_matrix(n_features=40, n_entities=23, density=0.3, seed=0) -> sp.csr_matrix:
    """``float[n_features, n_entities]`` with ratings 1..5 and one all-empty entity column."""
    rng = np.random.default_rng(seed)
    dense = (rng.random((n_features, n_entities)) < density) * rng.integers(1, 6, (n_features, n_entities))
    dense[:, 5] = 0
    return sp.csr_matrix(dense.astype(np.float32))


def dense_similarity(
    x: np.ndarray,
    similarity: str,
    shrink: float,
    normalize: bool = True,
    asym: float = 0.5,
    t_alpha: float = 1.0,
    t_beta: float = 1.0,
) -> np.ndarray:
    """Pair-by-pair similarity of the columns of a dense ``x``: ``out[b, a] = sim(target a, neighbour b)``."""
    stored = x != 0
    if similarity == "adjusted":  # subtract each row's (feature's) mean over its stored values
        means = np.array([row[m].mean() if m.any() else 0.0 for row, m in zip(x, stored, strict=True)])
        x = np.where(stored, x - means[:, None], 0.0)
    elif similarity == "pearson":  # subtract each column's (entity's) mean over its stored values
        means = np.array([col[m].mean() if m.any() else 0.0 for col, m in zip(x.T, stored.T, strict=True)])
        x = np.where(stored, x - means[None, :], 0.0)
    n = x.shape[1]
    out = np.zeros((n, n))
    for a, b in itertools.product(range(n), range(n)):
        if a == b:
            continue
        xa, xb = x[:, a].astype(np.float64), x[:, b].astype(np.float64)
        if similarity in ("jaccard", "dice", "tversky"):
            sa, sb = set(np.flatnonzero(xa)), set(np.flatnonzero(xb))
            both = len(sa & sb)
            if similarity == "jaccard":
                out[b, a] = both / (len(sa | sb) + shrink + 1e-6)
            elif similarity == "dice":
                out[b, a] = both / (len(sa) + len(sb) + shrink + 1e-6)
            else:
                out[b, a] = both / (both + t_alpha * len(sa - sb) + t_beta * len(sb - sa) + shrink + 1e-6)
            continue
        dot = float(xa @ xb)
        if not normalize:
            out[b, a] = dot / shrink if shrink else dot
        elif similarity == "asymmetric":
            out[b, a] = dot / (np.sum(xa**2) ** asym * np.sum(xb**2) ** (1 - asym) + shrink + 1e-6)
        else:
            out[b, a] = dot / (np.linalg.norm(xa) * np.linalg.norm(xb) + shrink + 1e-6)
    return out


def assert_topk_columns(w: np.ndarray, full: np.ndarray, k: int) -> None:
    """Each column of ``w`` holds ``full``'s values at its kept entries, and they are ``full``'s ``k`` largest."""
    for a in range(full.shape[1]):
        kept = np.flatnonzero(w[:, a])
        assert len(kept) <= k
        assert np.allclose(w[kept, a], full[kept, a], rtol=1e-5, atol=1e-6)
        best = np.sort(full[:, a])[::-1][:k]  # zeros (the diagonal, empty columns) rank above negatives
        best = best[np.abs(best) > 1e-7]
        assert np.allclose(np.sort(w[kept, a])[::-1], np.sort(best)[::-1], rtol=1e-5, atol=1e-6)


def assert_equal_up_to_boundary_ties(w: sp.csc_matrix, other: sp.csc_matrix) -> None:
    """Each column of ``other`` keeps as many entries as ``w``'s with the same values, and an entry
    kept by one only ties with that column's smallest kept value (a different choice among equals)."""
    assert np.array_equal(np.diff(w.indptr), np.diff(other.indptr))
    for a in range(w.shape[1]):
        columns = [
            (m.indices[m.indptr[a] : m.indptr[a + 1]], m.data[m.indptr[a] : m.indptr[a + 1]]) for m in (w, other)
        ]
        assert np.allclose(np.sort(columns[0][1]), np.sort(columns[1][1]), rtol=0, atol=1e-6)
        for ids, values in columns:
            only_here = ~np.isin(ids, np.intersect1d(columns[0][0], columns[1][0]))
            assert np.allclose(values[only_here], values.min() if len(values) else 0.0, rtol=0, atol=1e-6)


CASES = [
    ("cosine", 0.0, True),
    ("cosine", 3.0, True),
    ("cosine", 2.0, False),
    ("cosine", 0.0, False),
    ("adjusted", 1.0, True),
    ("pearson", 1.0, True),
    ("asymmetric", 0.5, True),
    ("jaccard", 1.0, True),
    ("dice", 0.0, True),
    ("tversky", 0.5, True),
]


@pytest.mark.parametrize("similarity,shrink,normalize", CASES)
@pytest.mark.parametrize("block", [4, None])
@pytest.mark.parametrize("product", ["dense", "sparse", "compiled"])
def test_similarity_matches_the_dense_pairwise_definition(similarity, shrink, normalize, block, product):
    x = rated_matrix(seed=3)
    k = 6
    w = topk_similarity(
        x,
        k,
        similarity,
        shrink,
        normalize,
        asymmetric_alpha=0.3,
        tversky_alpha=0.7,
        tversky_beta=0.2,
        block=block,
        product=product,
    ).toarray()
    full = dense_similarity(x.toarray(), similarity, shrink, normalize, asym=0.3, t_alpha=0.7, t_beta=0.2)
    assert np.count_nonzero(full) > 0
    assert_topk_columns(w, full, k)
    assert not w[:, 5].any() and not w[5].any()  # the empty column has no similarity
    assert not np.diag(w).any()


def test_the_product_is_chosen_by_its_work_and_an_unknown_one_is_refused():
    from recframe_cf.similarity import choose_product

    rng = np.random.default_rng(0)
    # 2,000 features x 20 entities, every feature in half of them: each co-occurrence list is long,
    # the dense product's nnz * n small, so dense; 20,000 features of one or two entities each
    # among 5,000: few co-occurrences against nnz * n = 1.5e8, so sparse
    crowded = sp.csr_matrix((rng.random((2000, 20)) < 0.5).astype(np.float32))
    scattered = sp.csr_matrix(
        (np.ones(30_000, np.float32), (np.repeat(np.arange(20_000), [1, 2] * 10_000), rng.integers(0, 5000, 30_000))),
        shape=(20_000, 5000),
    )
    scattered.sum_duplicates()
    assert choose_product(crowded) == "dense"
    assert choose_product(scattered) == "sparse"
    with pytest.raises(ValueError, match="product must be one of auto, compiled, dense, sparse"):
        topk_similarity(crowded, 3, product="blocked")


@pytest.mark.parametrize("similarity", ["cosine", "jaccard"])
def test_both_products_give_the_same_neighbours_on_ml100k(ml100k, similarity):
    """Item-item similarity of ML-100K's 943 x 1,682 ratings, k 50, through both products."""
    ratings = np.loadtxt(ml100k / "u.data", dtype=np.int64)
    x = sp.csr_matrix((ratings[:, 2].astype(np.float32), (ratings[:, 0] - 1, ratings[:, 1] - 1)))
    dense = topk_similarity(x, 50, similarity, shrink=10.0, product="dense")
    sparse = topk_similarity(x, 50, similarity, shrink=10.0, product="sparse")
    compiled = topk_similarity(x, 50, similarity, shrink=10.0, product="compiled")
    assert dense.nnz > 40 * x.shape[1]
    assert abs(dense - sparse).max() < 1e-6  # same kept entries, same values (argpartition ties alike)
    assert_equal_up_to_boundary_ties(dense, compiled)  # the compiled loop keeps the lower id of a tie


def test_compiled_product_on_binary_data_matches_the_definition():
    """Binary data take the compiled loop's value-free path (float32 counts): cosine as defined."""
    x = rated_matrix(seed=5)
    x.data[:] = 1.0
    w = topk_similarity(x, 7, "cosine", 2.0, product="compiled").toarray()
    assert_topk_columns(w, dense_similarity(x.toarray(), "cosine", 2.0), 7)


def test_compiled_product_keeps_negatives_only_below_k_non_negative_entries():
    """Every pair of 8 fully rated entities co-occurs, so each column's only zero is its diagonal,
    which ranks above negatives: with k = 7 a column keeps its positives and the largest negatives
    in the places left after the zero, as the block products do."""
    rng = np.random.default_rng(11)
    x = sp.csr_matrix(rng.integers(1, 6, (12, 8)).astype(np.float32))
    full = dense_similarity(x.toarray(), "pearson", 0.0)
    assert (full < 0).sum(axis=0).max() >= 2  # columns with negatives to keep
    for k in (7, 3):
        w = topk_similarity(x, k, "pearson", product="compiled").toarray()
        assert_topk_columns(w, full, k)
        positives, negatives = (full > 0).sum(axis=0), (full < 0).sum(axis=0)
        zeros = len(full) - positives - negatives  # the diagonal at least: it ranks above negatives
        expected = np.minimum(k, positives) + np.clip(k - positives - zeros, 0, negatives)
        assert (expected > np.minimum(k, positives)).any()  # some column keeps negatives
        assert np.array_equal(np.count_nonzero(w, axis=0), expected)
        dense = topk_similarity(x, k, "pearson", product="dense").toarray()
        assert np.array_equal(np.count_nonzero(dense, axis=0), expected)


def test_compiled_product_keeps_the_lower_ids_among_equal_similarities():
    """Six entities with one identical feature: every pair's similarity is equal, so each column keeps
    the two lowest ids other than its own."""
    x = sp.csr_matrix(np.ones((1, 6), np.float32))
    w = topk_similarity(x, 2, "cosine", product="compiled").toarray()
    for a in range(6):
        assert list(np.flatnonzero(w[:, a])) == [c for c in range(6) if c != a][:2]


def test_compiled_product_is_the_same_on_any_thread_count(ml100k):
    """Targets cut into blocks on threads, each with private heaps merged at the end: the same matrix."""
    from recframe_cf import cooccurrence as co

    ratings = np.loadtxt(ml100k / "u.data", dtype=np.int64)
    x = sp.csr_matrix((ratings[:, 2].astype(np.float32), (ratings[:, 0] - 1, ratings[:, 1] - 1)))
    squares = np.asarray(x.multiply(x).sum(axis=0), dtype=np.float64).ravel()
    norms = np.sqrt(squares)
    one, three = (
        co.compiled_topk(x, 20, co.Denominator(co.MODE_FACTORS, norms, norms, squares, 1.0, 1e-6, 1.0, 1.0), threads)
        for threads in (1, 3)
    )
    assert one.nnz == 20 * x.shape[1]
    assert np.array_equal(one.indptr, three.indptr) and np.array_equal(one.indices, three.indices)
    assert np.array_equal(one.data, three.data)
    assert co.heap_threads(n=10**6, k=100, threads=8) == 1  # 1.2 GB of heaps each: one thread
    assert co.heap_threads(n=1000, k=100, threads=8) == 8


def test_compiled_product_past_uint16_ids_matches_the_sparse_product():
    """70,000 entities (ids no longer fit uint16), 3,000 features of up to four entities each."""
    rng = np.random.default_rng(2)
    rows = np.repeat(np.arange(3000), 4)
    x = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, rng.integers(0, 70_000, len(rows)))), (3000, 70_000))
    x.data[:] = 1.0
    w = topk_similarity(x, 3, "jaccard", product="compiled")
    dots = (sp.csr_matrix(x.T) @ x).tocsc()  # every co-occurring pair, sparse
    counts = np.asarray(x.sum(axis=0)).ravel()
    assert w.nnz > 5000
    for a in rng.choice(np.flatnonzero(np.diff(dots.indptr) > 1), 200, replace=False):
        c = dots.indices[dots.indptr[a] : dots.indptr[a + 1]]
        d = dots.data[dots.indptr[a] : dots.indptr[a + 1]]
        sims = d / (counts[a] + counts[c] - d + 1e-6)
        sims[c == a] = 0.0
        best = np.sort(sims)[::-1][:3]
        got = w.data[w.indptr[a] : w.indptr[a + 1]]
        assert np.allclose(np.sort(got)[::-1], best[best > 0], rtol=1e-6)


def test_auto_takes_the_compiled_product_unless_kernels_are_off(monkeypatch):
    from recframe_cf import similarity

    x = rated_matrix(seed=3)
    calls = []
    real = similarity._compiled
    monkeypatch.setattr(similarity, "_compiled", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    similarity.topk_similarity(x, 4)
    assert calls == [1]
    monkeypatch.setenv("RECFRAME_KERNELS", "0")
    similarity.topk_similarity(x, 4)
    assert calls == [1]  # the block product this time
    with pytest.raises(ValueError, match=r"product 'compiled' needs numba: pip install 'recframe\[fast\]'"):
        similarity.topk_similarity(x, 4, product="compiled")


def test_asymmetric_alpha_half_is_cosine_and_differs_otherwise():
    x = rated_matrix(seed=4)
    cos = topk_similarity(x, 22, "cosine").toarray()
    assert np.allclose(topk_similarity(x, 22, "asymmetric", asymmetric_alpha=0.5).toarray(), cos, atol=1e-6)
    assert not np.allclose(topk_similarity(x, 22, "asymmetric", asymmetric_alpha=0.9).toarray(), cos, atol=1e-3)


@pytest.mark.parametrize("weighting", ["tfidf", "bm25"])
def test_feature_weighting_matches_the_textbook_formulas(weighting):
    x = rated_matrix(seed=5).toarray().astype(np.float64)
    got = weight_features(sp.csr_matrix(x), weighting).toarray()
    n_features, n_entities = x.shape
    expected = np.zeros_like(x)
    lengths = x.sum(axis=0)
    for f, e in zip(*np.nonzero(x), strict=True):
        idf = np.log(n_entities / (1 + np.count_nonzero(x[f])))
        if weighting == "tfidf":
            expected[f, e] = np.sqrt(x[f, e]) * idf
        else:
            norm = 0.25 + 0.75 * lengths[e] / lengths.mean()
            expected[f, e] = x[f, e] * 2.2 / (1.2 * norm + x[f, e]) * idf
    assert np.allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert weight_features(sp.csr_matrix(x), "none") is not None


def interactions(n_users=40, n_items=30, density=0.25, seed=0) -> Interactions:
    rng = np.random.default_rng(seed)
    dense = rng.random((n_users, n_items)) < density
    dense[np.arange(n_users), rng.integers(0, n_items - 1, n_users)] = True
    dense[:, n_items - 1] = False  # an item without training interactions
    users, items = np.nonzero(dense)
    return Interactions(user=users, item=items, n_users=n_users, n_items=n_items)


def build(name: str, data: Interactions, **params):
    info = DatasetInfo(data.n_users, data.n_items, data, np.bincount(data.item, minlength=data.n_items))
    model = registries().model.get(name)(info, **params)
    model.fit(data)
    return model.eval()


@pytest.mark.parametrize("similarity", ["cosine", "asymmetric", "jaccard", "tversky"])
@pytest.mark.parametrize("weighting", ["none", "bm25"])
def test_itemknn_scores_are_history_times_topk_item_similarity(similarity, weighting):
    data = interactions(seed=1)
    model = build(
        "itemknn", data, k=5, shrink=2.0, similarity=similarity, feature_weighting=weighting, asymmetric_alpha=0.7
    )
    x = data.to_csr().toarray()
    xw = weight_features(sp.csr_matrix(x), weighting).toarray()
    full = dense_similarity(xw, similarity, 2.0, asym=0.7)
    w = model.weights.toarray()
    assert_topk_columns(w, full, 5)
    scores = model.score_all(torch.arange(data.n_users)).numpy()
    assert np.allclose(scores, xw @ w, atol=1e-4)
    assert count_parameters(model) == np.count_nonzero(w)
    assert model_bytes(model) > 4 * count_parameters(model)


@pytest.mark.parametrize("similarity,weighting", [("cosine", "none"), ("dice", "tfidf"), ("cosine", "bm25")])
def test_userknn_scores_are_topk_user_neighbours_times_history(similarity, weighting):
    data = interactions(seed=2)
    k = 4
    model = build("userknn", data, k=k, shrink=1.0, similarity=similarity, feature_weighting=weighting)
    x = data.to_csr().toarray()
    xw = weight_features(sp.csr_matrix(x), weighting).toarray()  # items are the documents, as for ItemKNN
    full = dense_similarity(xw.T, similarity, 1.0)  # full[u, v]: similarity of neighbour u to user v
    s = model.user_weights.toarray()  # column v: v's kept neighbours; row u: the users that keep u
    assert_topk_columns(s, full, k)
    scores = model.score_all(torch.arange(data.n_users)).numpy()
    assert np.allclose(scores, s @ xw, atol=1e-4)


def dense_walk(x: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """Item-to-item walk probabilities through one user, by their definition, times ``pop_j^-beta``."""
    n_users, n_items = x.shape
    w = np.zeros((n_items, n_items))
    for i, j in itertools.product(range(n_items), range(n_items)):
        if i == j or not x[:, i].any() or not x[:, j].any():
            continue
        users = np.flatnonzero(x[:, i] * x[:, j])
        p = sum((1.0 / x[:, i].sum()) ** alpha * (1.0 / x[u].sum()) ** alpha for u in users)
        w[i, j] = p / x[:, j].sum() ** beta
    return w


@pytest.mark.parametrize(
    "name,params",
    [
        ("p3alpha", {"alpha": 0.7}),
        ("p3alpha", {"alpha": 1.0}),
        ("rp3beta", {"alpha": 0.8, "beta": 0.4}),
        ("rp3beta", {"alpha": 1.2, "beta": 0.0}),
    ],
)
@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("k", [3, 6])
def test_graph_walks_match_the_dense_walk(name, params, normalize, k):
    """The study's order: the top k of each row of the dense walk, rows optionally rescaled to sum to
    1, then the top k of each column of that."""
    data = interactions(seed=3)
    model = build(name, data, k=k, normalize_similarity=normalize, **params)
    x = data.to_csr().toarray()
    full = dense_walk(x, params["alpha"], params.get("beta", 0.0))
    stage = row_walk_weights(data.to_csr(), k, params["alpha"], params.get("beta", 0.0), normalize).toarray()
    rows = stage
    if normalize:
        kept = stage != 0
        raw = np.where(kept, full, 0.0)
        assert np.allclose(stage.sum(axis=1)[kept.any(axis=1)], 1.0, atol=1e-5)
        assert np.allclose(stage, raw / np.maximum(raw.sum(axis=1, keepdims=True), 1e-30), atol=1e-5)
        rows = raw
    assert_topk_columns(rows.T, full.T, k)  # first stage: top k per row (source item)
    w = model.weights.toarray()
    assert_topk_columns(w, stage, k)  # second stage: top k per column (destination item) of the first
    assert (np.count_nonzero(w, axis=0) <= k).all()
    scores = model.score_all(torch.arange(data.n_users)).numpy()
    assert np.allclose(scores, x @ w, atol=1e-5)
    assert not scores[:, -1].any()  # the item nobody rated is never reached


def test_the_column_cut_changes_normalised_walks():
    """After the row normalisation some columns hold more than k entries: the second cut matters."""
    data = interactions(seed=3)
    stage = row_walk_weights(data.to_csr(), 3, 0.7, 0.0, True).toarray()
    assert (np.count_nonzero(stage, axis=0) > 3).any()
    w = build("p3alpha", data, k=3, alpha=0.7, normalize_similarity=True).weights.toarray()
    assert np.count_nonzero(w) < np.count_nonzero(stage)


@pytest.mark.parametrize("k", [1, 2, 5, 50])
def test_column_top_k_keeps_the_largest_of_each_column(k):
    rng = np.random.default_rng(k)
    dense = np.where(rng.random((30, 12)) < 0.4, rng.random((30, 12)), 0.0)  # distinct values: no ties
    kept = column_top_k(sp.csr_matrix(dense), k).toarray()
    for col in range(dense.shape[1]):
        order = np.argsort(-dense[:, col])[: min(k, np.count_nonzero(dense[:, col]))]
        expected = np.zeros(dense.shape[0])
        expected[order] = dense[order, col]
        assert np.array_equal(kept[:, col], expected)


def test_rp3beta_with_beta_zero_is_p3alpha():
    data = interactions(seed=4)
    a = build("p3alpha", data, k=8, alpha=0.6).weights.toarray()
    b = build("rp3beta", data, k=8, alpha=0.6, beta=0.0).weights.toarray()
    assert np.allclose(a, b)


def elasticnet_objective(x: np.ndarray, j: int, w: np.ndarray, alpha: float, l1_ratio: float) -> float:
    n = x.shape[0]
    r = x[:, j] - x @ w
    return r @ r / (2 * n) + alpha * l1_ratio * np.abs(w).sum() + alpha * (1 - l1_ratio) / 2 * w @ w


def test_slim_columns_solve_the_constrained_elasticnet():
    data = interactions(n_users=60, n_items=20, density=0.3, seed=5)
    alpha, l1_ratio = 0.01, 0.3
    model = build("slim", data, k=19, alpha=alpha, l1_ratio=l1_ratio, tol=1e-10, max_iter=5000, block=7)
    x = data.to_csr().toarray().astype(np.float64)
    w = model.weights.toarray().astype(np.float64)
    assert not np.diag(w).any() and (w >= 0).all() and np.count_nonzero(w) > 0
    n = x.shape[0]
    rng = np.random.default_rng(0)
    for j in range(x.shape[1]):
        wj = w[:, j]
        # KKT conditions of the non-negative ElasticNet with w_jj = 0
        grad = -x.T @ (x[:, j] - x @ wj) / n + alpha * (1 - l1_ratio) * wj
        free = np.arange(x.shape[1]) != j
        active = (wj > 0) & free
        assert np.allclose(grad[active], -alpha * l1_ratio, atol=1e-5)
        assert (grad[~active & free] >= -alpha * l1_ratio - 1e-5).all()
        best = elasticnet_objective(x, j, wj, alpha, l1_ratio)
        for _ in range(5):  # and no feasible perturbation does better
            other = np.maximum(wj + rng.normal(0, 0.01, len(wj)), 0.0)
            other[j] = 0.0
            assert elasticnet_objective(x, j, other, alpha, l1_ratio) >= best - 1e-9
    scores = model.score_all(torch.arange(data.n_users)).numpy()
    assert np.allclose(scores, x @ w, atol=1e-5)


def test_slim_without_the_sign_constraint_solves_the_elasticnet():
    """``positive_only=False``: the KKT conditions of the plain ElasticNet (``w_jj = 0``) hold per column,
    and some coefficients are negative (the constraint would have mattered)."""
    data = interactions(n_users=60, n_items=20, density=0.3, seed=8)
    alpha, l1_ratio = 0.005, 0.2
    model = build("slim", data, k=19, alpha=alpha, l1_ratio=l1_ratio, positive_only=False, tol=1e-10, max_iter=5000)
    x = data.to_csr().toarray().astype(np.float64)
    w = model.weights.toarray().astype(np.float64)
    assert not np.diag(w).any() and (w < 0).any() and (w > 0).any()
    n = x.shape[0]
    for j in range(x.shape[1]):
        wj = w[:, j]
        grad = -x.T @ (x[:, j] - x @ wj) / n + alpha * (1 - l1_ratio) * wj
        free = (np.arange(x.shape[1]) != j) & x.any(axis=0)
        nonzero = (wj != 0) & free
        assert np.allclose(grad[nonzero], -alpha * l1_ratio * np.sign(wj[nonzero]), atol=1e-5)
        assert (np.abs(grad[~nonzero & free]) <= alpha * l1_ratio + 1e-5).all()


def test_slim_keeps_the_k_largest_coefficients():
    data = interactions(n_users=60, n_items=20, density=0.3, seed=6)
    full = build("slim", data, k=19, alpha=0.002, l1_ratio=0.1).weights.toarray()
    top = build("slim", data, k=3, alpha=0.002, l1_ratio=0.1).weights.toarray()
    assert_topk_columns(top, full, 3)


def test_puresvd_is_the_rank_f_reconstruction():
    data = interactions(seed=7)
    model = build("puresvd", data, num_factors=5)
    x = data.to_csr().toarray().astype(np.float64)
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    expected = (u[:, :5] * s[:5]) @ vt[:5]
    scores = model.score_all(torch.arange(data.n_users)).numpy()
    assert np.allclose(scores, expected, atol=1e-4)
    assert np.allclose(scores, x @ vt[:5].T @ vt[:5], atol=1e-4)
    assert count_parameters(model) == 5 * (data.n_users + data.n_items)
    p, q = model.score_factors(torch.arange(3))
    assert torch.allclose(p @ q.T, torch.from_numpy(scores[:3]), atol=1e-5)


@pytest.mark.parametrize(
    "name,params,fragment",
    [
        ("itemknn", {"similarity": "cosin"}, "similarity must be one of"),
        ("userknn", {"feature_weighting": "idf"}, "feature_weighting must be one of"),
        ("userknn", {"k": 0}, "k >= 1"),
        ("p3alpha", {"alpha": -1}, "alpha >= 0"),
        ("rp3beta", {"beta": -0.5}, "beta >= 0"),
        ("slim", {"l1_ratio": 2.0}, "l1_ratio"),
        ("puresvd", {"num_factors": 1000}, "num_factors must be in"),
    ],
)
def test_bad_parameters_are_one_line_errors(name, params, fragment):
    data = interactions()
    info = DatasetInfo(data.n_users, data.n_items, data, np.bincount(data.item, minlength=data.n_items))
    with pytest.raises(ValueError, match=fragment) as err:
        registries().model.get(name)(info, **params)
    assert "\n" not in str(err.value)
