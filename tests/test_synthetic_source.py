"""``data=synthetic``: chunked generation gives the whole-matrix draw's interactions, in bounded memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from recframe_datasets import synthetic
from recframe_datasets.synthetic import SyntheticSource, top_in_order


def whole_matrix_draw(n_users: int, n_items: int, per_user: int, rank: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The generator's model written out on the full ``n_users x n_items`` affinity (the oracle)."""
    rng = np.random.default_rng(seed)
    affinity = rng.normal(size=(n_users, rank)) @ rng.normal(size=(rank, n_items))
    affinity += rng.gumbel(size=affinity.shape)
    items = np.argsort(-affinity, axis=1)[:, :per_user].reshape(-1)
    return items, rng.integers(1, 6, size=n_users * per_user).astype(np.float32)


@pytest.mark.parametrize("chunk_cells", [1, 97, 1 << 22])
@pytest.mark.parametrize("shape", [(60, 40, 10, 4, 0), (700, 300, 25, 8, 3)])
def test_chunked_draw_equals_the_whole_matrix_draw(shape, chunk_cells, monkeypatch):
    monkeypatch.setattr(synthetic, "CHUNK_CELLS", chunk_cells)
    data = SyntheticSource(".", *shape).load()
    items, rating = whole_matrix_draw(*shape)
    n_users, _, per_user, _, _ = shape
    assert np.array_equal(data.user, np.repeat(np.arange(n_users), per_user))
    assert np.array_equal(data.item, items) and np.array_equal(data.rating, rating)


def test_top_in_order_matches_a_full_sort():
    scores = np.random.default_rng(0).normal(size=(50, 200))
    for k in (1, 7, 199, 200):
        assert np.array_equal(top_in_order(scores, k), np.argsort(-scores, axis=1)[:, :k])


def test_memory_stays_far_below_the_dense_affinity(monkeypatch):
    """4,000 x 2,000 users x items: a dense float64 affinity is 64 MB; the chunked draw (512 KiB chunks)
    peaks at a small fraction of it (numpy's allocations are traced by tracemalloc)."""
    monkeypatch.setattr(synthetic, "CHUNK_CELLS", 1 << 16)
    n_users, n_items = 4000, 2000
    tracemalloc.start()
    try:
        data = SyntheticSource(".", n_users=n_users, n_items=n_items, per_user=20, rank=4, seed=1).load()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(data.item) == n_users * 20 and len(np.unique(data.user * n_items + data.item)) == n_users * 20
    assert peak < n_users * n_items * 8 / 8
