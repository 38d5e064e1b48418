"""The collaborative-filtering zoo: each model against an independent computation or invariant."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from recframe.data.interactions import Interactions
from recframe.models import DatasetInfo, count_parameters
from recframe.plugins import registries


def random_interactions(n_users=30, n_items=25, density=0.3, seed=0) -> Interactions:
    rng = np.random.default_rng(seed)
    dense = rng.random((n_users, n_items)) < density
    dense[np.arange(n_users), rng.integers(0, n_items, n_users)] = True  # everyone has an item
    users, items = np.nonzero(dense)
    return Interactions(user=users, item=items, n_users=n_users, n_items=n_items)


def info_for(data: Interactions) -> DatasetInfo:
    return DatasetInfo(data.n_users, data.n_items, data, np.bincount(data.item, minlength=data.n_items))


def build(name: str, data: Interactions, **params):
    model = registries().model.get(name)(info_for(data), **params)
    if not model.trainable:
        model.fit(data)
    return model.eval()


def test_ease_matches_the_closed_form():
    data = random_interactions()
    model = build("ease", data, reg_weight=3.0)
    x = data.to_csr().toarray()
    g = x.T @ x + 3.0 * np.eye(data.n_items)
    p = np.linalg.inv(g)
    b = np.eye(data.n_items) - p / np.diag(p)  # B = I - P diag(1/diag(P))
    assert np.allclose(np.diag(model.item_weights.numpy()), 0.0)
    assert np.allclose(model.item_weights.numpy(), b, atol=1e-4)
    scores = model.score_all(torch.arange(data.n_users)).numpy()
    assert np.allclose(scores, x @ b, atol=1e-4)


@pytest.mark.parametrize("n", [1, 7, 513, 1100])
def test_ease_spd_inverse_matches_numpy(n):
    from recframe_cf.ease import spd_inverse

    rng = np.random.default_rng(n)
    x = (rng.random((2 * n, n)) < 0.2).astype(np.float64)
    g = x.T @ x + 5.0 * np.eye(n)
    expected = np.linalg.inv(g)
    for a in (g.copy(), np.asfortranarray(g)):
        inv = spd_inverse(a)
        assert inv.flags.c_contiguous
        assert np.allclose(inv, expected, rtol=1e-10, atol=1e-12)
        assert np.array_equal(inv, inv.T)
    assert np.array_equal(a, np.asfortranarray(g))  # the input is left as it was


def test_ease_spd_inverse_falls_back_when_not_positive_definite():
    from recframe_cf.ease import spd_inverse

    a = np.array([[1.0, 2.0], [2.0, 1.0]])
    assert np.allclose(spd_inverse(a.copy()), np.linalg.inv(a))


def test_itemknn_keeps_the_k_most_similar_neighbours_per_item():
    data = random_interactions(seed=1)
    k, shrink = 4, 2.0
    model = build("itemknn", data, k=k, shrink=shrink)
    x = data.to_csr().toarray()
    norms = np.sqrt((x * x).sum(0))
    sims = (x.T @ x) / (norms[:, None] * norms[None, :] + shrink + 1e-6)
    np.fill_diagonal(sims, 0.0)
    w = model.weights.toarray()
    for j in range(data.n_items):
        kept = np.flatnonzero(w[:, j])
        assert len(kept) <= k
        assert np.allclose(w[kept, j], sims[kept, j], atol=1e-5)
        # nothing left out is more similar than what was kept
        assert sims[np.setdiff1d(np.arange(data.n_items), kept), j].max(initial=0) <= w[kept, j].min() + 1e-6
    assert np.allclose(model.score_all(torch.arange(data.n_users)).numpy(), x @ w, atol=1e-5)
    assert count_parameters(model) == sp.csr_matrix(w).nnz


def test_ials_conjugate_gradient_reaches_the_exact_least_squares_solution():
    from recframe.training.als import cg_side_torch as cg_side

    data = random_interactions(seed=2)
    rng = np.random.default_rng(0)
    items = torch.from_numpy(rng.normal(size=(data.n_items, 5)))
    alpha, reg = 4.0, 0.5
    rows, cols = torch.from_numpy(data.user), torch.from_numpy(data.item)
    approx = cg_side(rows, cols, torch.zeros(data.n_users, 5, dtype=torch.float64), items, alpha, reg, steps=25)
    x = data.to_csr().toarray()
    y = items.numpy()
    for u in range(data.n_users):
        c = 1 + alpha * x[u]
        a = y.T @ (c[:, None] * y) + reg * np.eye(5)
        exact = np.linalg.solve(a, y.T @ (c * x[u]))
        assert np.allclose(approx[u].numpy(), exact, atol=1e-6)


def test_lightgcn_propagation_gradient_is_exact():
    from recframe_cf.lightgcn import SymmetricAdjacency, SymmetricSpMM, normalized_adjacency

    data = random_interactions(seed=3)
    adjacency = normalized_adjacency(data.to_csr()).astype(np.float64)
    assert abs(adjacency - adjacency.T).max() < 1e-12
    x = torch.randn(data.n_users + data.n_items, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda e: SymmetricSpMM.apply(e, SymmetricAdjacency(adjacency)), (x,))
    # normalisation: A_hat[u, i] = 1 / sqrt(deg(u) deg(i))
    deg_u = np.bincount(data.user, minlength=data.n_users)
    deg_i = np.bincount(data.item, minlength=data.n_items)
    u, i = data.user[0], data.item[0]
    assert np.isclose(adjacency[u, data.n_users + i], 1 / np.sqrt(deg_u[u] * deg_i[i]))


def test_lightgcn_torch_sparse_product_equals_scipy():
    """The product other devices use (torch sparse CSR) against scipy's, in float32 and float64."""
    from recframe_cf.lightgcn import SymmetricAdjacency, normalized_adjacency

    data = random_interactions(seed=4)
    adjacency = SymmetricAdjacency(normalized_adjacency(data.to_csr()))
    for dtype in (torch.float32, torch.float64):
        x = torch.randn(data.n_users + data.n_items, 5, dtype=dtype)
        expected = adjacency.matrix.astype(np.float64) @ x.double().numpy()
        got = adjacency.torch_csr(x.device, dtype) @ x
        assert got.dtype == dtype
        assert np.allclose(got.double().numpy(), expected, atol=1e-6)
        assert (adjacency @ x).dtype == dtype  # the CPU (scipy) path keeps x's dtype
    assert adjacency.torch_csr(torch.device("cpu")) is adjacency.torch_csr(torch.device("cpu"))  # made once
    import copy
    import pickle

    for twin in (copy.deepcopy(adjacency), pickle.loads(pickle.dumps(adjacency))):  # torch cannot copy sparse CSR
        assert twin._on_device == {} and (twin.matrix != adjacency.matrix).nnz == 0


def test_lightgcn_trains_and_scores_through_pruned_and_compressed_tables():
    import copy

    from torch.nn.utils import prune

    from recframe_cf.lightgcn import LightGCN
    from recframe_distill.lowrank import LowRankEmbedding

    data = random_interactions(seed=7)
    model = LightGCN(info_for(data), embedding_dim=8, num_layers=2)
    model.adjacency.torch_csr(torch.device("cpu"))
    copy.deepcopy(model)  # a model whose adjacency was used on a device still copies (compression starts so)
    prune.l1_unstructured(model.embedding, "weight", amount=0.5)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    batch = {
        "user": torch.tensor([0, 1, 2]),
        "pos_item": torch.tensor([0, 1, 2]),
        "neg_item": torch.tensor([[3], [4], [5]]),
    }
    for _ in range(2):  # the mask hook recomputes the table each step (a second backward used to fail)
        optimizer.zero_grad()
        out = model(batch)
        (out["neg_score"].sum() - out["pos_score"].sum() + out["regularization"]).backward()
        optimizer.step()
    assert float((model.table() == 0).float().mean()) >= 0.5  # pruned entries stay zero
    model.embedding = LowRankEmbedding(model.table().detach(), rank=2)
    model.eval()
    users = torch.arange(data.n_users)
    with torch.no_grad():
        before = model.score_all(users)
        model.embedding.left.mul_(2.0)  # a compressed table is never served from the cache
        assert torch.allclose(model.score_all(users), 4.0 * before, atol=1e-5)


def test_lightgcn_reuses_propagation_only_while_the_table_is_unchanged():
    from recframe_cf.lightgcn import LightGCN

    data = random_interactions(seed=6)
    model = LightGCN(info_for(data), embedding_dim=8, num_layers=2)
    users = torch.arange(data.n_users)
    model.eval()
    with torch.no_grad():
        first = model.propagate()
        assert model.propagate()[0] is first[0]  # reused in eval mode
    assert model.propagate()[0].requires_grad  # with gradients: always computed anew
    # a fused Adam step does not advance the version counter: the mode change must drop the copy
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1, fused=True)
    model.train()
    with torch.no_grad():
        assert model.propagate()[0] is not model.propagate()[0]  # nothing kept in train mode
    model.score_all(users).sum().backward()
    optimizer.step()
    model.eval()
    with torch.no_grad():
        after_step = model.score_all(users)
        assert not torch.allclose(after_step, first[0] @ first[1].T)
        assert torch.allclose(model.propagate()[0], model._propagate()[0])
    other = LightGCN(info_for(data), embedding_dim=8, num_layers=2).eval()
    model.load_state_dict(other.state_dict())  # still in eval mode: loading drops the copy
    with torch.no_grad():
        assert torch.allclose(model.score_all(users), other.score_all(users))


def test_lightgcn_normal_init_uses_init_std():
    from recframe_cf.lightgcn import LightGCN

    data = random_interactions(seed=5)
    torch.manual_seed(0)
    model = LightGCN(info_for(data), embedding_dim=64, init="normal", init_std=0.1)
    assert abs(float(model.embedding.weight.detach().std()) - 0.1) < 0.01
    assert abs(float(model.embedding.weight.detach().mean())) < 0.01
    with pytest.raises(ValueError, match="init must be"):
        LightGCN(info_for(data), init="uniform")


@pytest.mark.parametrize(
    "name, params",
    [
        ("pop", {}),
        ("bpr", {"embedding_dim": 8}),
        ("gmf", {"embedding_dim": 8}),
        ("ncf_mlp", {"embedding_dim": 8, "hidden_sizes": [16, 8]}),
        ("neumf", {"embedding_dim": 8, "mlp_embedding_dim": 8, "hidden_sizes": [16, 8]}),
        ("lightgcn", {"embedding_dim": 8, "num_layers": 2}),
        ("multvae", {"hidden_sizes": [16], "latent_dim": 4}),
        ("itemknn", {"k": 5}),
        ("ease", {"reg_weight": 10.0}),
        ("ials", {"embedding_dim": 4, "iterations": 2}),
    ],
)
def test_score_agrees_with_score_all(name, params):
    data = random_interactions(seed=4)
    torch.manual_seed(0)
    model = build(name, data, **params)
    users = torch.tensor([0, 3, 3, 7])
    items = torch.tensor([1, 2, 24, 0])
    with torch.no_grad():
        full = model.score_all(users)
        assert full.shape == (4, data.n_items) and torch.isfinite(full).all()
        assert torch.allclose(model.score(users, items), full[torch.arange(4), items], atol=1e-5)


@pytest.mark.parametrize(
    "name, params",
    [
        ("bpr", {"embedding_dim": 8}),
        ("gmf", {"embedding_dim": 8}),
        ("lightgcn", {"embedding_dim": 8, "num_layers": 2}),
        ("ials", {"embedding_dim": 4, "iterations": 2}),
        ("pop", {}),
        ("neumf", {"embedding_dim": 8}),
    ],
)
def test_score_factors_are_score_all_up_to_a_constant_per_row(name, params):
    """The contract full ranking relies on: ``score_all = P @ Q.T + c_b``, or no factors at all."""
    data = random_interactions(seed=5)
    torch.manual_seed(0)
    model = build(name, data, **params)
    if name == "ials":
        model.fit(data)
    elif name == "gmf":
        torch.nn.init.normal_(model.output.bias)  # a non-zero constant per row
    users = torch.tensor([0, 3, 3, 7])
    with torch.no_grad():
        factors = model.score_factors(users)
        if name in ("pop", "neumf"):
            assert factors is None
            return
        P, Q = factors
        gap = model.score_all(users) - P @ Q.T  # float[4, n_items]
    assert P.shape[0] == 4 and Q.shape[0] == data.n_items
    assert torch.allclose(gap, gap[:, :1].expand_as(gap), atol=1e-5)


def test_non_persistent_caches_are_not_counted_as_parameters():
    data = random_interactions(seed=5)
    model = build("lightgcn", data, embedding_dim=8, num_layers=1)
    assert count_parameters(model) == (data.n_users + data.n_items) * 8


@pytest.mark.parametrize(
    "args",
    [
        ["model=itemknn"],
        ["model=ease"],
        ["model=ials"],
    ],
)
def test_closed_form_models_beat_popularity_on_ml100k(ml100k, tmp_path, args):
    import recframe

    pop = recframe.run(["model=pop", "logger=none"], run_dir=tmp_path / "pop")["metrics"]["test/ndcg@10"]
    ours = recframe.run([*args, "logger=none"], run_dir=tmp_path / "m")["metrics"]["test/ndcg@10"]
    assert ours > pop + 0.1


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        ["model=neumf"],
        ["model=lightgcn"],
        ["model=multvae", "trainer.batch_size=256"],
        ["model=bpr", "loss=sampled_softmax", "trainer.num_negatives=8"],
        ["model=bpr", "loss=softmax"],
    ],
)
def test_gradient_models_beat_popularity_on_ml100k(ml100k, tmp_path, args):
    import recframe

    pop = recframe.run(["model=pop", "logger=none"], run_dir=tmp_path / "pop")["metrics"]["test/ndcg@10"]
    ours = recframe.run(
        [*args, "logger=none", "trainer.progress_bar=false", "trainer.max_epochs=20"], run_dir=tmp_path / "m"
    )["metrics"]["test/ndcg@10"]
    assert ours > pop + 0.05


def test_recbole_batch_counting_counts_each_item_once_per_batch():
    from recframe_cf.pop import batch_presence_counts

    data = random_interactions(n_users=40, n_items=30, density=0.3, seed=6)
    counts = batch_presence_counts(data, batch_size=12, num_negatives=2, rng=np.random.default_rng(7))
    # oracle: replay the same draws, one Python set per batch of 12 // 3 = 4 positives
    rng = np.random.default_rng(7)
    from recframe.training.sampling import NegativeSampler

    order = rng.permutation(len(data))
    negatives = NegativeSampler(data).sample(data.user[order], 2, rng)
    expected = np.zeros(data.n_items)
    for start in range(0, len(order), 4):
        present = set(data.item[order[start : start + 4]]) | set(negatives[start : start + 4].ravel())
        expected[list(present)] += 1
    assert np.array_equal(counts, expected)
    assert counts.max() <= -(-len(data) // 4)  # never more than once per batch
    exact = build("pop", data)
    batched = build("pop", data, counting="recbole_batches", batch_size=12, num_negatives=2)
    assert not torch.equal(exact.popularity, batched.popularity)
    with pytest.raises(ValueError, match="counting must be one of"):
        build("pop", data, counting="per_batch")


def test_listwise_batches_per_interaction_weight_users_by_activity():
    from recframe.training.batches import UserRowBatches

    data = random_interactions(n_users=20, n_items=15, seed=8)
    per_user = list(UserRowBatches(data, batch_size=7, seed=1, per="users"))
    assert sorted(np.concatenate([b["user"].numpy() for b in per_user]).tolist()) == list(range(20))
    batches = UserRowBatches(data, batch_size=16, seed=1, per="interactions")
    epoch = list(batches)
    assert len(epoch) == len(batches) == -(-len(data) // 16)
    users = np.concatenate([b["user"].numpy() for b in epoch])
    assert np.array_equal(np.bincount(users, minlength=20), np.bincount(data.user, minlength=20))
    dense = data.to_csr().toarray() > 0
    for b in epoch:
        assert np.array_equal(b["row"].numpy() > 0, dense[b["user"].numpy()])
        assert torch.equal(b["row_nonzero"], b["row"].nonzero().T)  # the same positions, row-major
    with pytest.raises(ValueError, match="per 'users' or per 'interactions'"):
        UserRowBatches(data, batch_size=4, seed=1, per="items")


def test_multvae_sparse_input_path_is_normalize_then_dropout():
    """The encoder's input built from the non-zero entries is ``F.dropout(F.normalize(x))``: exact
    without dropout, and with dropout each set entry is zeroed at rate p or scaled by 1 / (1 - p)."""
    import torch.nn.functional as F
    from recframe_cf.multvae import normalized_dropout

    gen = torch.Generator().manual_seed(0)
    rows = (torch.rand(64, 200, generator=gen) < 0.1).float() * torch.randint(1, 4, (64, 200), generator=gen)
    rows[5] = 0  # an empty row stays empty
    assert torch.allclose(normalized_dropout(rows, 0.0), F.normalize(rows, dim=1), atol=1e-7)
    assert torch.allclose(normalized_dropout(rows, 0.0, rows.nonzero().T), F.normalize(rows, dim=1), atol=1e-7)
    torch.manual_seed(1)
    dropped = normalized_dropout(rows, 0.5)
    kept = dropped[rows > 0] != 0
    assert abs(kept.float().mean().item() - 0.5) < 0.05
    assert torch.allclose(dropped[rows > 0][kept], 2 * F.normalize(rows, dim=1)[rows > 0][kept])
    assert not dropped[rows == 0].any()


def test_multvae_epsilon_std_scales_the_reparameterisation_noise():
    """With no dropout, the training code is ``mu`` plus noise of std ``epsilon_std * exp(logvar/2)``:
    zero noise reproduces the eval-mode logits, RecBole's 0.01 stays close, the paper's 1 does not."""
    data = random_interactions(seed=4)
    rows = torch.from_numpy(data.to_csr().toarray().astype(np.float32))
    batch = {"row": (rows > 0).float()}
    gaps = {}
    for std in (0.0, 0.01, 1.0):
        torch.manual_seed(0)
        model = registries().model.get("multvae")(
            info_for(data), hidden_sizes=[16], latent_dim=4, dropout=0.0, epsilon_std=std
        )
        reference = model.eval()(batch)["logits"]
        gaps[std] = (model.train()(batch)["logits"] - reference).abs().max().item()
    assert gaps[0.0] == 0.0 and 0 < gaps[0.01] < gaps[1.0] / 20
    with pytest.raises(ValueError, match="epsilon_std"):
        registries().model.get("multvae")(info_for(data), epsilon_std=-1)


def test_multinomial_loss_matches_the_log_softmax_definition():
    """-mean_u sum_i x_ui log softmax(z_u)_i, with and without the batch's non-zero positions, in
    float32 from bfloat16 logits too."""
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(3)
    rows = (torch.rand(16, 40, generator=gen) < 0.2).float() * torch.randint(1, 3, (16, 40), generator=gen)
    logits = torch.randn(16, 40, generator=gen) * 3
    expected = -(F.log_softmax(logits, dim=1) * rows).sum(1).mean()
    loss = registries().loss.get("multinomial")()
    for batch in ({"row": rows}, {"row": rows, "row_nonzero": rows.nonzero().T}):
        assert torch.allclose(loss({"logits": logits}, batch), expected, rtol=1e-5)
    half = loss({"logits": logits.bfloat16()}, {"row": rows})
    assert half.dtype == torch.float32
    assert torch.allclose(half, -(F.log_softmax(logits.bfloat16().float(), 1) * rows).sum(1).mean(), rtol=1e-5)


def test_lightgcn_recbole_regulariser_is_the_plain_frobenius_norm():
    data = random_interactions(seed=9)
    torch.manual_seed(0)
    squared = build("lightgcn", data, embedding_dim=4, num_layers=1, reg_weight=1.0, reg_norm="squared")
    plain = build("lightgcn", data, embedding_dim=4, num_layers=1, reg_weight=1.0, reg_norm="frobenius")
    plain.load_state_dict(squared.state_dict())
    batch = {
        "user": torch.tensor([0, 1, 1]),
        "pos_item": torch.tensor([2, 3, 4]),
        "neg_item": torch.tensor([[5], [6], [7]]),
    }
    e = squared.embedding.weight.detach()
    u, p, n = e[batch["user"]], e[data.n_users + batch["pos_item"]], e[data.n_users + batch["neg_item"].view(-1)]
    assert squared(batch)["regularization"].item() == pytest.approx(
        float((u.pow(2).sum() + p.pow(2).sum() + n.pow(2).sum()) / 6), rel=1e-6
    )
    assert plain(batch)["regularization"].item() == pytest.approx(float((u.norm() + p.norm() + n.norm()) / 3), rel=1e-6)
    # Xavier-uniform bound of each table (users, items) as separate embeddings
    assert e[: data.n_users].abs().max() <= np.sqrt(6 / (data.n_users + 4))
    assert e[data.n_users :].abs().max() <= np.sqrt(6 / (data.n_items + 4))
    with pytest.raises(ValueError, match="reg_norm"):
        build("lightgcn", data, reg_norm="l1")


def test_tower_on_all_pairs_equals_the_tower_on_each_concatenation_in_any_chunking():
    from recframe_cf.ncf_mlp import mlp, tower_on_all_pairs

    torch.manual_seed(0)
    tower = mlp([7, 6, 4], dropout=0.3).eval()
    users, items = torch.randn(5, 3), torch.randn(9, 4)
    pairs = torch.cat([users.repeat_interleave(9, 0), items.repeat(5, 1)], dim=1)  # [45, 7]
    expected = tower(pairs).view(5, 9, 4)
    for max_cells in (1, 54, 1 << 20):  # one user per chunk, a partial last chunk, one chunk
        assert torch.allclose(tower_on_all_pairs(tower, users, items, max_cells=max_cells), expected, atol=1e-6)
        head = torch.randn(4)
        projected = tower_on_all_pairs(tower, users, items, max_cells=max_cells, head=head)
        assert torch.allclose(projected, expected @ head, atol=1e-5)


@pytest.mark.parametrize("name", ["bpr", "neumf"])
def test_score_many_is_score_on_each_pair(name):
    """``score_many`` (BPR-MF: one user gather a row, fused backward) equals ``score`` pair by pair,
    in values and in gradients."""
    info = DatasetInfo(30, 20, None, None)
    torch.manual_seed(0)
    model = registries().model.get(name)(info).eval()  # no dropout: both paths see the same network
    users = torch.tensor([0, 5, 29])
    items = torch.tensor([[1, 2, 19, 2], [0, 0, 3, 4], [7, 8, 9, 10]])
    many = model.score_many(users, items)
    many.pow(2).sum().backward()
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    pairs = model.score(users.repeat_interleave(4), items.reshape(-1)).view(3, 4)
    pairs.pow(2).sum().backward()
    assert torch.allclose(many, pairs, atol=1e-6)
    assert all(torch.allclose(g, p.grad, atol=1e-6) for g, p in zip(grads, model.parameters()))
