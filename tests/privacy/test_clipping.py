"""DP-SGD's per-sample clipping against a brute-force oracle: each sample's gradient by its own
backward, clipped, summed. Real models (BPR-MF, NeuMF, Mult-VAE) on batches of real ML-100K pairs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from recframe.errors import TrainingError
from recframe.models import DatasetInfo, Recommender
from recframe.plugins import registries
from recframe.privacy.clipping import PerSampleClipper


@pytest.fixture(scope="module")
def pairs(ml100k):
    """``(users, items)`` of ML-100K (dense ids) and the sizes."""
    raw = np.loadtxt(ml100k / "u.data", dtype=np.int64)[:, :2]
    _, users = np.unique(raw[:, 0], return_inverse=True)
    _, items = np.unique(raw[:, 1], return_inverse=True)
    return users.astype(np.int64), items.astype(np.int64)


def info_for(users: np.ndarray, items: np.ndarray) -> DatasetInfo:
    from recframe.data.interactions import Interactions

    n_users, n_items = int(users.max()) + 1, int(items.max()) + 1
    train = Interactions(user=users, item=items, n_users=n_users, n_items=n_items)
    return DatasetInfo(n_users, n_items, train, np.bincount(items, minlength=n_items))


def model_and_loss(name: str, users, items, **params):
    regs = registries()
    model = regs.model.get(name)(info_for(users, items), **params)
    loss_name = {"bpr": "bpr", "neumf": "bce", "multvae": "multinomial"}[name]
    return model.eval(), regs.loss.get(loss_name)()  # eval: no dropout, so the oracle sees the same function


def batch_loss(model: Recommender, loss: nn.Module, batch: dict) -> torch.Tensor:
    out = model(batch)
    value = loss(out, batch)
    return value + out["regularization"] if "regularization" in out else value


def oracle(model, loss, batch, group: int, clip: float | None):
    """Per parameter: the mean over samples of each sample's gradient clipped to ``clip`` (its own backward)."""
    rows = len(batch["user"])
    samples = rows // group
    params = [p for p in model.parameters() if p.requires_grad]
    total = [torch.zeros_like(p) for p in params]
    norms = []
    for s in range(samples):
        sub = {k: v[s * group : (s + 1) * group] for k, v in batch.items()}
        grads = torch.autograd.grad(batch_loss(model, loss, sub), params, allow_unused=True)
        grads = [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads, strict=True)]
        norm = float(torch.sqrt(sum((g.double() ** 2).sum() for g in grads)))
        norms.append(norm)
        coef = 1.0 if clip is None else min(1.0, clip / norm)
        for t, g in zip(total, grads, strict=True):
            t += coef * g
    return [t / samples for t in total], np.array(norms)


def clipped_by_hooks(model, loss, batch, group: int, clip: float):
    rows = len(batch["user"])
    clipper = PerSampleClipper(model, clip, 0.0, rows // group, group=group)
    with clipper.recording():
        value = batch_loss(model, loss, batch)
    clipper.backward(value, rows)
    clipper.remove()
    return [p.grad.clone() for p in model.parameters() if p.requires_grad], clipper


def check(model, loss, batch, group):
    _, norms = oracle(model, loss, batch, group, None)
    clip = float(np.median(norms))  # about half the samples are clipped
    expected, _ = oracle(model, loss, batch, group, clip)
    got, clipper = clipped_by_hooks(model, loss, batch, group, clip)
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-7)
    assert 0 < clipper.clipped < len(norms)


@pytest.fixture(params=["compiled", "torch"])
def embedding_path(request, monkeypatch):
    """Run the embedding tables' clipping through the compiled kernels (recframe.kernels.clip_rows) and
    through the torch path (RECFRAME_KERNELS=0): both must match the oracle."""
    if request.param == "torch":
        monkeypatch.setenv("RECFRAME_KERNELS", "0")
    else:
        pytest.importorskip("numba")
        monkeypatch.delenv("RECFRAME_KERNELS", raising=False)
    return request.param


def test_bpr_mf_matches_the_per_sample_oracle(pairs, embedding_path):
    users, items = pairs
    torch.manual_seed(0)
    model, loss = model_and_loss("bpr", users, items, embedding_dim=8)
    rng = np.random.default_rng(0)
    pick = rng.choice(len(users), 24, replace=False)
    neg = rng.integers(0, items.max() + 1, size=(24, 2))
    neg[0, 1] = items[pick[0]]  # one sample touches the same item row twice: its rows merge before the norm
    pick[1] = pick[2]  # and one pair twice in the batch (two samples)
    batch = {
        "user": torch.from_numpy(users[pick]),
        "pos_item": torch.from_numpy(items[pick]),
        "neg_item": torch.from_numpy(neg),
    }
    check(model, loss, batch, group=1)


def test_neumf_pointwise_groups_match_the_oracle(pairs, embedding_path):
    users, items = pairs
    torch.manual_seed(1)
    model, loss = model_and_loss("neumf", users, items, embedding_dim=8, mlp_embedding_dim=8, hidden_sizes=[16, 8])
    rng = np.random.default_rng(1)
    pick = rng.choice(len(users), 10, replace=False)
    n = 3  # a sample: a positive and its 3 negatives, 4 consecutive rows
    u = np.repeat(users[pick], 1 + n)
    it = np.concatenate([items[pick, None], rng.integers(0, items.max() + 1, size=(10, n))], axis=1).reshape(-1)
    label = np.tile(np.r_[1.0, np.zeros(n)], 10).astype(np.float32)
    batch = {"user": torch.from_numpy(u), "item": torch.from_numpy(it), "label": torch.from_numpy(label)}
    check(model, loss, batch, group=1 + n)


def test_multvae_user_rows_match_the_oracle(pairs):
    users, items = pairs
    torch.manual_seed(2)
    model, loss = model_and_loss("multvae", users, items, hidden_sizes=[32], latent_dim=8)
    model.updates.fill_(100_000)  # the KL term (a per-sample regularization) is on
    chosen = np.arange(12)
    rows = np.zeros((12, int(items.max()) + 1), dtype=np.float32)
    mask = np.isin(users, chosen)
    rows[users[mask], items[mask]] = 1.0
    batch = {"user": torch.from_numpy(chosen), "row": torch.from_numpy(rows)}
    check(model, loss, batch, group=1)


def test_noise_has_the_declared_scale(pairs):
    users, items = pairs
    model, loss = model_and_loss("bpr", users, items, embedding_dim=16)
    batch = {"user": torch.tensor([0, 1]), "pos_item": torch.tensor([3, 4]), "neg_item": torch.tensor([[5], [6]])}
    clipper = PerSampleClipper(model, 0.5, 2.0, expected_samples=64, seed=3)
    with clipper.recording():
        value = batch_loss(model, loss, batch)
    clipper.backward(value, 2)
    untouched = model.user_embedding.weight.grad[10:]  # rows no sample touched: noise only
    std = float(untouched.std())
    assert abs(std - 2.0 * 0.5 / 64) < 0.05 * (2.0 * 0.5 / 64)


class PaddedBags(nn.Module):
    """Sums a sample's item rows (``padding_idx`` lookups give no gradient) through a linear layer."""

    def __init__(self) -> None:
        super().__init__()
        self.items = nn.Embedding(30, 6, padding_idx=0)
        self.out = nn.Linear(6, 1)

    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        return {"score": self.out(self.items(batch["items"]).sum(1)).squeeze(1)}


def test_padding_lookups_and_repeated_rows_match_the_oracle(embedding_path):
    torch.manual_seed(4)
    model = PaddedBags()
    ids = torch.randint(0, 30, (16, 5))
    ids[0, :3] = 0  # padding lookups
    ids[1, 1:4] = ids[1, 0]  # one row looked up four times by one sample
    target = torch.randn(16)
    batch = {"user": torch.arange(16), "items": ids, "target": target}
    mse = lambda out, b: ((out["score"] - b["target"]) ** 2).mean()  # noqa: E731 - a per-sample loss
    check(model, mse, batch, group=1)


def test_the_noisy_update_is_the_clipped_mean_plus_the_seeded_noise_on_every_parameter(pairs, embedding_path):
    """With noise: ``grad = (sum of clipped per-sample gradients + sigma C z) / expected`` for every
    coordinate of every parameter, ``z`` drawn from the clipper's seeded generator parameter by
    parameter; rows no sample touched get noise only."""
    users, items = pairs
    torch.manual_seed(5)
    model, loss = model_and_loss("bpr", users, items, embedding_dim=8)
    rng = np.random.default_rng(5)
    pick = rng.choice(len(users), 32, replace=False)
    batch = {
        "user": torch.from_numpy(users[pick]),
        "pos_item": torch.from_numpy(items[pick]),
        "neg_item": torch.from_numpy(rng.integers(0, items.max() + 1, size=(32, 1))),
    }
    _, norms = oracle(model, loss, batch, 1, None)
    clip, sigma, expected = float(np.median(norms)), 1.3, 40
    clipped_mean, _ = oracle(model, loss, batch, 1, clip)
    clipper = PerSampleClipper(model, clip, sigma, expected, seed=11)
    with clipper.recording():
        value = batch_loss(model, loss, batch)
    clipper.backward(value, 32)
    generator = torch.Generator().manual_seed(11)
    for p, mean in zip(model.parameters(), clipped_mean, strict=True):
        noise = torch.randn(p.shape, generator=generator)
        torch.testing.assert_close(p.grad, (mean * 32 + sigma * clip * noise) / expected, rtol=1e-4, atol=1e-6)
        assert bool((p.grad != 0).all())  # noise on every coordinate


class BareParameter(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(10, 4)
        self.scale = nn.Parameter(torch.ones(1))


class WholeWeight(nn.Module):
    """Scores every item with the whole table (the pattern of graph or full-softmax models)."""

    def __init__(self) -> None:
        super().__init__()
        self.users, self.items = nn.Embedding(10, 4), nn.Embedding(12, 4)

    def forward(self, users: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(self.users(users) @ self.items.weight.T, dim=1)[:, 0].mean()


def test_a_parameter_outside_the_layers_is_refused_up_front():
    with pytest.raises(TrainingError, match=r"outside nn.Embedding/nn.Linear layers \(scale\)") as err:
        PerSampleClipper(BareParameter(), 1.0, 1.0, 8)
    assert "\n" not in str(err.value)


def test_a_weight_read_directly_is_refused_before_the_first_update():
    model = WholeWeight()
    before = model.items.weight.detach().clone()
    clipper = PerSampleClipper(model, 1.0, 1.0, 4)
    with clipper.recording():
        value = -model(torch.tensor([0, 1, 2, 3]))
    with pytest.raises(TrainingError, match="uses parameter 'items.weight' other than by calling its layer"):
        clipper.backward(value, 4)
    assert model.items.weight.grad is None and model.users.weight.grad is None  # nothing to step with
    torch.testing.assert_close(model.items.weight.detach(), before)
