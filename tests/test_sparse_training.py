"""Row-sparse optimisers (trainer.optimizer=sparse_*): the same updates as torch's dense optimisers where
they must be, untouched rows left alone, and the same accuracy after training on ML-100K."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

import recframe
from recframe.errors import ConfigError
from recframe.training.sparse_optim import RowSparseOptimizer, row_gradient, sparse_optimizer, use_sparse_gradients


def _bpr_model(n_users: int = 40, n_items: int = 30, dim: int = 8):
    from recframe.data.interactions import Interactions
    from recframe.models import DatasetInfo
    from recframe_cf.bpr import BPRMF

    rng = np.random.default_rng(0)
    data = Interactions(
        user=rng.integers(0, n_users, 200), item=rng.integers(0, n_items, 200), n_users=n_users, n_items=n_items
    )
    torch.manual_seed(0)
    return BPRMF(DatasetInfo(n_users, n_items, data, np.bincount(data.item, minlength=n_items)), embedding_dim=dim)


def _bpr_step(model: nn.Module, optimizer: torch.optim.Optimizer, users, pos, neg) -> None:
    out = model({"user": users, "pos_item": pos, "neg_item": neg})
    loss = -torch.nn.functional.logsigmoid(out["pos_score"][:, None] - out["neg_score"]).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def _batches(n_users: int, n_items: int, steps: int, size: int = 64, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return [
        (
            torch.randint(0, n_users, (size,), generator=g),
            torch.randint(0, n_items, (size,), generator=g),
            torch.randint(0, n_items, (size, 2), generator=g),
        )
        for _ in range(steps)
    ]  # with repeats


@pytest.mark.parametrize("kernels_on", ["1", "0"])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_sparse_sgd_gives_dense_sgds_weights_bit_for_bit(kernels_on, weight_decay, monkeypatch):
    """Plain SGD never moves a row without gradient, so with weight decay 0 the row-sparse steps are
    torch.optim.SGD's exactly (repeats summed in the same order); with weight decay the rows the
    batches touched are (dense SGD also decays every untouched row)."""
    monkeypatch.setenv("RECFRAME_KERNELS", kernels_on)
    dense = _bpr_model()
    sparse = copy.deepcopy(dense)
    monkeypatch.setenv("RECFRAME_KERNELS", "0")  # the dense side's gradient: the same torch sums
    dense_opt = torch.optim.SGD(dense.parameters(), lr=0.5, weight_decay=weight_decay)
    monkeypatch.setenv("RECFRAME_KERNELS", kernels_on)
    sparse_opt = sparse_optimizer("sparse_sgd", sparse, lr=0.5, weight_decay=weight_decay)
    assert sparse.user_embedding.sparse and sparse.item_embedding.sparse
    for users, pos, neg in _batches(40, 30, steps=5):
        monkeypatch.setenv("RECFRAME_KERNELS", "0")
        _bpr_step(dense, dense_opt, users, pos, neg)
        monkeypatch.setenv("RECFRAME_KERNELS", kernels_on)
        _bpr_step(sparse, sparse_opt, users, pos, neg)
        assert sparse.user_embedding.weight.grad.is_sparse
        if weight_decay:  # one step at a time: the touched rows agree exactly
            for name in ("user_embedding", "item_embedding"):
                touched = getattr(sparse, name).weight.grad.coalesce().indices()[0]
                d, s = getattr(dense, name).weight, getattr(sparse, name).weight
                assert torch.equal(d[touched], s[touched]), name
                with torch.no_grad():
                    s.copy_(d)  # start the next step from the same weights
    for name in ("user_embedding", "item_embedding"):
        assert torch.equal(getattr(dense, name).weight, getattr(sparse, name).weight), name


@pytest.mark.parametrize("kernels_on", ["1", "0"])
def test_sparse_adam_leaves_rows_outside_the_batch_bit_identical(kernels_on, monkeypatch):
    monkeypatch.setenv("RECFRAME_KERNELS", kernels_on)
    sparse, dense = _bpr_model(), _bpr_model()
    sparse_opt = sparse_optimizer("sparse_adam", sparse, lr=0.01, weight_decay=0.0)
    dense_opt = torch.optim.Adam(dense.parameters(), lr=0.01)
    first = (torch.arange(0, 10), torch.arange(0, 10), torch.arange(10, 20).view(-1, 1))  # items 0..19
    second = (torch.arange(10, 20), torch.arange(20, 30), torch.arange(29, 19, -1).view(-1, 1))  # items 20..29
    initial = sparse.user_embedding.weight.detach().clone()
    for model, opt in ((sparse, sparse_opt), (dense, dense_opt)):
        _bpr_step(model, opt, *first)
    after_first = {
        m: (m.user_embedding.weight.detach().clone(), m.item_embedding.weight.detach().clone()) for m in (sparse, dense)
    }
    for model, opt in ((sparse, sparse_opt), (dense, dense_opt)):
        _bpr_step(model, opt, *second)
    u, i = sparse.user_embedding.weight, sparse.item_embedding.weight
    assert torch.equal(u[20:], initial[20:])  # never in a batch
    assert torch.equal(u[:10], after_first[sparse][0][:10])  # only in the first batch
    assert torch.equal(i[:20], after_first[sparse][1][:20])
    assert not torch.equal(u[10:20], after_first[sparse][0][10:20])  # the second batch's rows moved
    # dense Adam keeps moving rows through their momentum: the check above can tell the two apart
    assert not torch.equal(dense.user_embedding.weight[:10], after_first[dense][0][:10])


@pytest.mark.parametrize("kernels_on", ["1", "0"])
@pytest.mark.parametrize(
    "rule,reference",
    [
        ("adam", lambda p, wd: torch.optim.Adam(p, lr=0.01, weight_decay=wd)),
        ("adagrad", lambda p, wd: torch.optim.Adagrad(p, lr=0.1, weight_decay=wd)),
        ("sgd", lambda p, wd: torch.optim.SGD(p, lr=0.1, weight_decay=wd)),
    ],
)
@pytest.mark.parametrize("sparse_grad", [False, True])
def test_rules_match_torchs_optimisers_when_every_row_has_a_gradient(
    rule, reference, sparse_grad, kernels_on, monkeypatch
):
    """torch's optimisers are the oracle: with a gradient on every row (dense, or sparse covering all
    rows) each rule's trajectory is theirs, weight decay included."""
    monkeypatch.setenv("RECFRAME_KERNELS", kernels_on)
    torch.manual_seed(0)
    start = torch.randn(12, 6)
    grads = [torch.randn(12, 6) for _ in range(6)]
    ours, theirs = nn.Parameter(start.clone()), nn.Parameter(start.clone())
    lr = {"adam": 0.01, "adagrad": 0.1, "sgd": 0.1}[rule]
    opt = RowSparseOptimizer([ours], rule, lr=lr, weight_decay=0.05)
    ref = reference([theirs], 0.05)
    for g in grads:
        if sparse_grad:  # every row once, in a shuffled order, split into two looked-up halves
            order = torch.randperm(12)
            index = torch.cat([order, order])
            ours.grad = torch.sparse_coo_tensor(
                index.view(1, -1), torch.cat([g[order] * 0.25, g[order] * 0.75]), (12, 6), check_invariants=True
            )
        else:
            ours.grad = g.clone()
        theirs.grad = g.clone()
        opt.step()
        ref.step()
    assert torch.allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_row_gradient_sums_repeats_like_a_dense_scatter():
    index = torch.tensor([4, 1, 4, 4, 0])
    values = torch.randn(5, 3)
    rows, summed = row_gradient(torch.sparse_coo_tensor(index.view(1, -1), values, (6, 3)))
    dense = torch.zeros(6, 3).index_add_(0, index, values)
    assert rows.tolist() == [0, 1, 4]
    assert torch.equal(summed, dense[rows])


def test_sparse_gradients_reach_gmfs_tables_and_its_dense_output_layer_steps_too(ml100k):
    """GMF looks its tables up through nn.Embedding: after the switch their gradients are sparse, rows
    outside the batch keep their values, and the dense output layer is stepped too."""
    from recframe.models import DatasetInfo
    from recframe_cf.gmf import GMF
    from recframe_datasets.movielens import MovieLens100K

    data = MovieLens100K(str(ml100k)).load()
    info = DatasetInfo(data.n_users, data.n_items, data, np.bincount(data.item, minlength=data.n_items))
    model = GMF(info, embedding_dim=8)
    opt = sparse_optimizer("sparse_adam", model, lr=0.01, weight_decay=0.0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    users, items = torch.as_tensor(data.user[:256]), torch.as_tensor(data.item[:256])
    loss = torch.nn.functional.binary_cross_entropy_with_logits(model.score(users, items), torch.ones(256))
    loss.backward()
    assert model.user_embedding.weight.grad.is_sparse and not model.output.weight.grad.is_sparse
    opt.step()
    after = model.state_dict()
    untouched = np.setdiff1d(np.arange(data.n_users), data.user[:256])
    assert torch.equal(after["user_embedding.weight"][untouched], before["user_embedding.weight"][untouched])
    assert not torch.equal(after["output.weight"], before["output.weight"])


def test_embeddings_that_cannot_have_sparse_gradients_are_a_config_error():
    model = nn.Module()
    model.table = nn.Embedding(5, 3, max_norm=1.0)
    with pytest.raises(ConfigError, match="max_norm.*trainer.optimizer=adam"):
        use_sparse_gradients(model)


def test_an_unknown_optimizer_names_the_sparse_ones(tmp_path):
    from recframe.errors import TrainingError

    with pytest.raises((ConfigError, TrainingError), match="sparse_adam"):
        recframe.run(
            [
                "data=synthetic",
                "trainer.optimizer=lazy",
                "trainer.max_epochs=1",
                "logger=none",
                "trainer.progress_bar=false",
                "data_cache=false",
            ],
            run_dir=tmp_path,
        )


@pytest.mark.slow
@pytest.mark.parametrize(
    "model,optimizer,dense_lr,lr",
    [("bpr", "sparse_adam", 0.001, 0.001), ("bpr", "sparse_adagrad", 0.001, 0.05), ("gmf", "sparse_adam", 0.01, 0.01)],
)
def test_training_on_ml100k_with_a_sparse_optimizer_reaches_dense_adams_accuracy(
    ml100k, tmp_path, model, optimizer, dense_lr, lr
):
    common = [
        f"model={model}",
        "logger=none",
        "trainer.progress_bar=false",
        "trainer.max_epochs=5",
        "trainer.patience=100",
    ]
    dense = recframe.run([*common, "trainer.optimizer=adam", f"trainer.lr={dense_lr}"], run_dir=tmp_path / "dense")
    ours = recframe.run([*common, f"trainer.optimizer={optimizer}", f"trainer.lr={lr}"], run_dir=tmp_path / "ours")
    pop = recframe.run(["model=pop", "logger=none"], run_dir=tmp_path / "pop")["metrics"]["test/ndcg@10"]
    assert ours["run"]["epochs"] == dense["run"]["epochs"] == 5
    assert ours["metrics"]["test/ndcg@10"] > pop + 0.02
    assert ours["metrics"]["test/ndcg@10"] >= 0.85 * dense["metrics"]["test/ndcg@10"]


def test_a_context_models_field_tables_train_row_sparse():
    """DeepFM's field table (with its padding row) and first-order weights get sparse gradients; the
    padding row stays zero and the fields no batch example uses keep their values."""
    from recframe_context.deepfm import DeepFM
    from tests.test_context_models import toy_info

    info = toy_info()
    model = DeepFM(info, embedding_dim=4)
    opt = sparse_optimizer("sparse_adam", model, lr=0.05, weight_decay=0.0)
    before = model.embed.embedding.weight.detach().clone()
    batch = {"user": torch.tensor([0, 1]), "item": torch.tensor([0, 0]), "label": torch.tensor([1.0, 0.0])}
    slots = model.slots(batch["user"], batch["item"])
    out = model(batch)["score"]
    torch.nn.functional.binary_cross_entropy_with_logits(out, batch["label"]).backward()
    assert model.embed.embedding.weight.grad.is_sparse and model.linear.weights.embedding.weight.grad.is_sparse
    opt.step()
    after = model.embed.embedding.weight.detach()
    used = torch.unique(slots)
    unused = torch.tensor([r for r in range(len(after)) if r not in set(used.tolist())])
    assert torch.equal(after[model.embed.pad], torch.zeros(4))
    assert len(unused) and torch.equal(after[unused], before[unused])
    moved = used[used != model.embed.pad]
    assert not torch.equal(after[moved], before[moved])
