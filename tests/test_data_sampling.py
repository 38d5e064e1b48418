"""Negative samplers and fixed candidate sets: never a positive, right distribution, seeded, fast."""

from __future__ import annotations

import numpy as np
import pytest

from recframe import config as rconfig
from recframe.data.candidates import build_candidates, load_candidates, save_candidates
from recframe.data.interactions import Interactions
from recframe.runner import load_data
from recframe.training.sampling import NegativeSampler, sorted_unique


@pytest.fixture(scope="module")
def ml1m(data_dir):
    return load_data(rconfig.compose(["data=ml-1m"]))


def positives_hit(data: Interactions, users: np.ndarray, items: np.ndarray) -> int:
    m = data.to_csr()
    ok = items >= 0
    return int(m[users[ok], items[ok]].sum())


@pytest.mark.parametrize("distribution", ["uniform", "popularity"])
def test_sampler_never_returns_a_positive_and_is_seeded(ml1m, distribution):
    sampler = NegativeSampler(ml1m, distribution=distribution)
    users = np.repeat(np.arange(ml1m.n_users), 20)
    neg = sampler.sample(users, 10, np.random.default_rng(7))
    assert neg.shape == (len(users), 10)
    assert positives_hit(ml1m, np.repeat(users, 10), neg.ravel()) == 0
    assert np.array_equal(neg, sampler.sample(users, 10, np.random.default_rng(7)))
    assert not np.array_equal(neg, sampler.sample(users, 10, np.random.default_rng(8)))


def test_sampler_distributions_are_roughly_right():
    # 1 user with item 0; items 1..4 have training counts from other users 1, 2, 3, 4 (+ item 0: 1)
    user = np.array([0, 1, 2, 2, 3, 3, 3, 4, 4, 4, 4])
    item = np.array([0, 1, 2, 2, 3, 3, 3, 4, 4, 4, 4])
    data = Interactions(user=user, item=item, n_users=5, n_items=5)
    rng = np.random.default_rng(0)
    uni = NegativeSampler(data).sample(np.zeros(1, np.int64), 200_000, rng).ravel()
    freq = np.bincount(uni, minlength=5) / uni.size
    assert freq[0] == 0 and np.allclose(freq[1:], 0.25, atol=0.01)
    pop = NegativeSampler(data, distribution="popularity").sample(np.zeros(1, np.int64), 200_000, rng).ravel()
    freq = np.bincount(pop, minlength=5) / pop.size
    # popularity 1:2:3:4 over items 1..4 once item 0 (the positive) is rejected
    assert freq[0] == 0 and np.allclose(freq[1:], np.array([1, 2, 3, 4]) / 10, atol=0.01)


def test_sampler_rejects_a_user_with_every_item():
    data = Interactions(user=[0, 0], item=[0, 1], n_users=1, n_items=2)
    with pytest.raises(ValueError, match="interacted with every item"):
        NegativeSampler(data)


def test_sorted_unique_matches_numpy():
    x = np.random.default_rng(1).integers(0, 50, 1000)
    assert np.array_equal(sorted_unique(x), np.unique(x))
    assert sorted_unique(np.array([], np.int64)).size == 0


@pytest.mark.parametrize("distribution", ["uniform", "popularity"])
def test_candidates_exclude_every_positive_are_distinct_and_seeded(ml1m, distribution):
    cands = build_candidates(ml1m, 99, seed=11, distribution=distribution)
    assert cands.shape == (6040, 99) and cands.dtype == np.int64
    assert (cands >= 0).all() and cands.max() < ml1m.n_items
    users = np.repeat(np.arange(6040), 99)
    assert positives_hit(ml1m, users, cands.ravel()) == 0
    srt = np.sort(cands, axis=1)
    assert (srt[:, 1:] != srt[:, :-1]).all()  # no repeated negative within a user
    assert np.array_equal(cands, build_candidates(ml1m, 99, seed=11, distribution=distribution))
    assert not np.array_equal(cands, build_candidates(ml1m, 99, seed=12, distribution=distribution))


def test_popularity_candidates_prefer_popular_items(ml1m):
    pop = np.bincount(ml1m.item, minlength=ml1m.n_items)
    uni = build_candidates(ml1m, 50, seed=0)
    popc = build_candidates(ml1m, 50, seed=0, distribution="popularity")
    assert pop[popc].mean() > 2 * pop[uni].mean()


def test_candidates_pad_users_with_few_negatives():
    # user 0 has 4 of 6 items, user 1 has 1: with C = 3, user 0 gets its 2 negatives and one -1
    data = Interactions(user=[0, 0, 0, 0, 1], item=[0, 1, 2, 3, 0], n_users=2, n_items=6)
    cands = build_candidates(data, 3, seed=0)
    assert sorted(cands[0].tolist()) == [-1, 4, 5]
    assert set(cands[1].tolist()) <= {1, 2, 3, 4, 5} and len(set(cands[1].tolist())) == 3


def test_candidates_round_trip_atomically(tmp_path, ml1m):
    cands = build_candidates(ml1m, 5, seed=0)
    path = save_candidates(tmp_path / "run" / "candidates.npy", cands)
    assert path.name == "candidates.npy" and np.array_equal(load_candidates(path), cands)
    assert [p.name for p in path.parent.iterdir()] == ["candidates.npy"]  # no temporary left over


def test_bitmap_and_sorted_key_membership_agree(ml1m, monkeypatch):
    from recframe.training import sampling

    with_bits = NegativeSampler(ml1m)
    monkeypatch.setattr(sampling, "BITMAP_MAX_CELLS", 0)
    with_keys = NegativeSampler(ml1m)
    assert with_bits.bits is not None and with_keys.bits is None
    rng = np.random.default_rng(3)
    users = np.concatenate([ml1m.user[:50_000], rng.integers(0, ml1m.n_users, 50_000)])
    items = np.concatenate([ml1m.item[:50_000], rng.integers(0, ml1m.n_items, 50_000)])
    got = with_bits.is_positive(users, items)
    assert got[:50_000].all() and np.array_equal(got, with_keys.is_positive(users, items))
    assert np.array_equal(
        with_bits.sample(users[:1000], 5, np.random.default_rng(0)),
        with_keys.sample(users[:1000], 5, np.random.default_rng(0)),
    )


def skewed_interactions() -> Interactions:
    """Four users with 1, 3, 30 and 300 items (one item each is shared), 400 items."""
    degrees = [1, 3, 30, 300]
    user = np.repeat(np.arange(4), degrees)
    item = np.concatenate([np.arange(d) for d in degrees])
    return Interactions(user=user, item=item, n_users=5, n_items=400)  # user 4 has no training items


def epoch_pairs(data: Interactions, positives: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    from recframe.training.batches import InteractionBatches

    batches = InteractionBatches(data, "pairwise", 64, 1, NegativeSampler(data), seed, positives=positives)
    drawn = list(batches)
    return (np.concatenate([b["user"].numpy() for b in drawn]), np.concatenate([b["pos_item"].numpy() for b in drawn]))


def test_positives_by_interactions_walk_every_pair_once():
    data = skewed_interactions()
    users, items = epoch_pairs(data, "interactions")
    got = sorted(zip(users.tolist(), items.tolist()))
    assert got == sorted(zip(data.user.tolist(), data.item.tolist()))


def test_positives_by_users_weigh_users_equally_and_items_within_a_user_equally():
    data = skewed_interactions()
    counts_u, counts_i = np.zeros(5), np.zeros(400)
    for seed in range(100):
        users, items = epoch_pairs(data, "users", seed)
        assert len(users) == len(data)  # as many draws as training pairs
        assert positives_hit(data, users, items) == len(users)  # every draw is a training pair
        counts_u += np.bincount(users, minlength=5)
        counts_i += np.bincount(items[users == 3], minlength=400)
    from scipy.stats import chisquare

    assert counts_u[4] == 0  # no training items, never drawn
    assert chisquare(counts_u[:4]).pvalue > 1e-4  # uniform over users (interactions mode: p ~ 0)
    assert chisquare(counts_i[:300]).pvalue > 1e-4  # uniform over a user's items, all reached
    assert chisquare(np.bincount(data.user)[:4]).pvalue < 1e-4  # the test tells the two modes apart
    a, b = epoch_pairs(data, "users", 1), epoch_pairs(data, "users", 1)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])  # seeded


def test_positive_sampling_rejects_unknown_mode():
    from recframe.training.batches import InteractionBatches

    data = skewed_interactions()
    with pytest.raises(ValueError, match="positives are drawn per"):
        InteractionBatches(data, "pairwise", 64, 1, NegativeSampler(data), 0, positives="items")


def test_row_search_membership_matches_a_set_of_the_training_pairs(ml1m, monkeypatch):
    """The three membership paths (bitmap, compiled per-user row search, one global ``searchsorted``)
    against a Python set of the training pairs, on positives, random pairs and every item of the
    first, last and an item-less user (the rows at both ends of the key array and an empty row)."""
    from recframe.training import sampling

    pytest.importorskip("numba")
    data = Interactions(
        user=ml1m.user, item=ml1m.item, n_users=ml1m.n_users + 1, n_items=ml1m.n_items
    )  # the last user has no items
    rng = np.random.default_rng(5)
    edge = np.array([0, int(ml1m.user.max()), data.n_users - 1])
    users = np.concatenate([ml1m.user[::7], rng.integers(0, data.n_users, 200_000), np.repeat(edge, data.n_items)])
    items = np.concatenate(
        [ml1m.item[::7], rng.integers(0, data.n_items, 200_000), np.tile(np.arange(data.n_items), len(edge))]
    )
    pairs = set(zip(ml1m.user.tolist(), ml1m.item.tolist(), strict=True))
    want = np.array([(u, i) in pairs for u, i in zip(users.tolist(), items.tolist(), strict=True)])
    assert want.sum() > len(ml1m.user[::7])  # the edge users' own items are in too
    bitmap = NegativeSampler(data)
    monkeypatch.setattr(sampling, "BITMAP_MAX_CELLS", 0)
    rows = NegativeSampler(data)
    assert bitmap.bits is not None and rows.bits is None
    got_bits, got_rows = bitmap.is_positive(users, items), rows.is_positive(users, items)
    monkeypatch.setenv("RECFRAME_KERNELS", "0")
    got_global = rows.is_positive(users, items)
    assert np.array_equal(got_bits, want) and np.array_equal(got_rows, want) and np.array_equal(got_global, want)
