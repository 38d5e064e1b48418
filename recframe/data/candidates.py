"""Fixed, seeded candidate sets for sampled evaluation.

Sampled ranking (NCF, S3-Rec: "rank the held-out item among 99 negatives") is only comparable
across runs and models when every run ranks against the *same* negatives. :func:`build_candidates`
draws them once from a seed, excluding every positive of the user in the whole dataset (train,
validation and test), and the caller saves the array with the run (:func:`save_candidates` writes
``candidates.npy`` atomically).

Negatives are distinct within a user's row. A user with fewer than ``C`` non-positive items gets
all of them and ``-1`` padding. Everything is vectorised: rows are over-drawn with
:class:`~recframe.training.sampling.NegativeSampler` (which already rejects positives), duplicates
inside a row are dropped with one sort, and only rows still short are redrawn.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from recframe.atomic import atomic_path
from recframe.data.interactions import Interactions
from recframe.errors import ConfigError
from recframe.training.sampling import NegativeSampler, sorted_unique


def _distinct_first(rows: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` distinct values of each row (in draw order) and how many each row has."""
    order = np.argsort(rows, axis=1, kind="stable")
    srt = np.take_along_axis(rows, order, axis=1)
    dup_sorted = np.zeros_like(srt, dtype=bool)
    dup_sorted[:, 1:] = srt[:, 1:] == srt[:, :-1]
    dup = np.empty_like(dup_sorted)
    np.put_along_axis(dup, order, dup_sorted, axis=1)  # a repeat of an earlier draw in the row
    keep_order = np.argsort(dup, axis=1, kind="stable")  # distinct values first, draw order kept
    out = np.take_along_axis(rows, keep_order, axis=1)[:, :n]
    return out, (~dup).sum(axis=1)


def build_candidates(
    data: Interactions, num_candidates: int, seed: int, distribution: str = "uniform", alpha: float = 1.0
) -> np.ndarray:
    """``int64[n_users, num_candidates]`` distinct negatives per user, ``-1`` padded.

    Args:
        data: every interaction of the dataset (all parts): their items are excluded per user.
        num_candidates: ``C``, the number of negatives per user.
        seed: the only source of randomness; the same seed and data give the same array.
        distribution: ``uniform`` or ``popularity`` (by interaction count ** ``alpha``).
    """
    c = int(num_candidates)
    if c < 1:
        raise ConfigError(f"protocol.num_candidates must be >= 1, got {num_candidates}")
    rng = np.random.default_rng(seed)
    n_users, n_items = data.n_users, data.n_items
    keys = sorted_unique(data.user * n_items + data.item)
    degree = np.bincount(keys // n_items, minlength=n_users)
    available = n_items - degree
    out = np.full((n_users, c), -1, dtype=np.int64)
    # Users with few negatives left (or popularity mass concentrated on their positives) get an
    # exact draw: a random key for every item, positives pushed last.
    dense = np.flatnonzero(available <= 2 * c)
    sparse = np.flatnonzero(available > 2 * c)
    if dense.size:
        scores = rng.random((dense.size, n_items))
        pos_u = np.searchsorted(dense, keys // n_items)
        hit = (pos_u < dense.size) & (dense[np.minimum(pos_u, dense.size - 1)] == keys // n_items)
        scores[pos_u[hit], keys[hit] % n_items] = np.inf
        picked = np.argsort(scores, axis=1)[:, :c]
        valid = np.arange(c)[None, :] < available[dense, None]
        out[dense] = np.where(valid, picked, -1)
    if sparse.size:
        # Positives of the sampled users only (a user with every item is in ``dense``); popularity
        # is still counted over the whole data.
        sampler = NegativeSampler(data.subset(np.isin(data.user, sparse)), distribution=distribution, alpha=alpha)
        if distribution == "popularity":
            w = np.bincount(data.item, minlength=n_items).astype(np.float64) ** alpha
            sampler.cdf = np.cumsum(w / w.sum())
        todo, width = sparse, 2 * c
        for _ in range(64):
            rows, count = _distinct_first(sampler.sample(todo, width, rng), c)
            done = count >= c
            out[todo[done]] = rows[done]
            todo, width = todo[~done], width * 2
            if not todo.size:
                break
        else:  # pragma: no cover - popularity mass almost entirely on a user's positives
            raise ConfigError(
                f"could not draw {c} distinct negatives for {todo.size} user(s) with "
                f"distribution={distribution}; use uniform or fewer candidates"
            )
    return out


def save_candidates(path: str | Path, candidates: np.ndarray) -> Path:
    """Write ``candidates`` (``int64[n_users, C]``) to ``path`` (``candidates.npy``) atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, np.asarray(candidates, dtype=np.int64), allow_pickle=False)
    return path


def load_candidates(path: str | Path) -> np.ndarray:
    """The array :func:`save_candidates` wrote."""
    return np.load(Path(path), allow_pickle=False)
