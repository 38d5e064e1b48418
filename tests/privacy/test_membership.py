"""The membership-inference attack: its AUC against brute-force pair counting, its rank signal
against a direct count, and its verdict on a memorising model and on a model scoring at random
(real ML-100K users)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from recframe.data.interactions import Interactions
from recframe.models import DatasetInfo
from recframe.plugins import registries
from recframe.privacy.membership import attack_auc, membership_inference, rank_signal


def brute_force_auc(members: np.ndarray, non_members: np.ndarray) -> float:
    wins = sum((m > n) + 0.5 * (m == n) for m in members for n in non_members)
    return wins / (len(members) * len(non_members))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auc_equals_pair_counting_with_ties(seed):
    rng = np.random.default_rng(seed)
    members = rng.integers(0, 6, size=40).astype(float)  # many ties
    non_members = rng.integers(0, 5, size=31).astype(float)
    assert attack_auc(members, non_members) == pytest.approx(brute_force_auc(members, non_members), abs=1e-12)
    assert attack_auc(np.ones(3), np.zeros(4)) == 1.0
    assert attack_auc(np.zeros(3), np.ones(4)) == 0.0


def test_rank_signal_counts_the_items_scored_below():
    class Fixed(torch.nn.Module):
        def __init__(self, scores):
            super().__init__()
            self.scores = scores

        def score_all(self, users):
            return self.scores[users]

    scores = torch.tensor([[0.1, 0.5, 0.5, 0.9, 0.0], [3.0, 2.0, 1.0, 0.0, -1.0]])
    signal = rank_signal(Fixed(scores), np.array([1, 0, 0, 1]), np.array([0, 1, 3, 4]), batch_users=1)
    # user 0, item 1: below 0.1 and 0.0, one tie (item 2) -> (2 + 0.5) / 4
    np.testing.assert_allclose(signal, [1.0, 2.5 / 4, 1.0, 0.0])


@pytest.fixture(scope="module")
def small_split(ml100k):
    """60 ML-100K users; each user's items split 80/20 at random into train and test."""
    raw = np.loadtxt(ml100k / "u.data", dtype=np.int64)[:, :2]
    keep = raw[:, 0] <= 60
    _, users = np.unique(raw[keep, 0], return_inverse=True)
    _, items = np.unique(raw[keep, 1], return_inverse=True)
    n_users, n_items = int(users.max()) + 1, int(items.max()) + 1
    test = np.random.default_rng(0).random(len(users)) < 0.2

    def part(mask):
        return Interactions(user=users[mask], item=items[mask], n_users=n_users, n_items=n_items)

    split = SimpleNamespace(train=part(~test), test=part(test))
    split.part = lambda name: getattr(split, name)
    return split


def bpr_model(split, dim: int):
    train = split.train
    info = DatasetInfo(train.n_users, train.n_items, train, np.bincount(train.item, minlength=train.n_items))
    return registries().model.get("bpr")(info, embedding_dim=dim)


def test_a_memorising_model_leaks_and_a_random_one_does_not(small_split):
    torch.manual_seed(0)
    random_model = bpr_model(small_split, 16)
    random_auc = membership_inference(random_model, small_split, pairs=5000, seed=0)["auc"]
    assert abs(random_auc - 0.5) < 0.03

    model = bpr_model(small_split, 64)  # far more parameters than the ~5,000 training pairs need
    train = small_split.train
    users, items = torch.from_numpy(train.user), torch.from_numpy(train.item)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    rng = torch.Generator().manual_seed(0)
    for _ in range(40):
        negatives = torch.randint(0, train.n_items, (len(users), 1), generator=rng)
        scores = model.score_many(users, torch.cat([items[:, None], negatives], dim=1))
        loss = -torch.nn.functional.logsigmoid(scores[:, :1] - scores[:, 1:]).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    attack = membership_inference(model, small_split, pairs=5000, seed=0)
    assert attack["auc"] > 0.85
    assert attack["member_signal_mean"] > attack["non_member_signal_mean"]
    assert attack["members"] == min(5000, len(train)) and attack["non_members"] == len(small_split.test)
