"""Synthetic interaction logs at ML-20M size and beyond, with power-law popularity, written under the cache.

``generate(n_interactions, ...)`` writes ``$RECFRAME_CACHE_DIR/scale/<name>/interactions.parquet``
(columns ``user_id``, ``item_id`` int32, ``timestamp`` int64; no duplicate pairs) and returns its
folder; an existing file with the same settings is reused (the settings are in ``settings.json``
next to it). Files go to the cache, never into the repository. Read them with recframe's
``data=table`` source (:func:`data_overrides`).

The model: user activity is log-normal (a few heavy users, a long tail of light ones; every user at
least ``min_per_user``), item popularity follows a power law ``p(rank r) ~ (r + 10)^-exponent``
(``exponent`` 1.0 gives ML-20M-like concentration: the top 1% of items take about a quarter of
the interactions). Users belong to one of ``communities`` groups, and each group ranks the items
by the global popularity plus its own noise, so a user's items share taste with their group's:
collaborative models beat popularity on it, as on real logs. Users are generated in chunks, so
memory stays a few bytes per interaction beyond the output.

ML-20M's shape: 138,493 users, 26,744 items, 20M ratings (12M at rating >= 3.5);
``ml20m_sized(12_000_000)`` matches that. ``python benchmarks/scale_data.py 100000000`` writes the
100M file (about 5 minutes and 1 GB on disk).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np


def cache_root() -> Path:
    return Path(os.environ.get("RECFRAME_CACHE_DIR", Path.home() / ".cache" / "recframe")) / "scale"


def sizes_for(n_interactions: int) -> tuple[int, int]:
    """Users and items for a log of ``n_interactions``: ML-20M's shape scaled (138,493 x 26,744 at 12M)."""
    factor = n_interactions / 12_000_000
    return max(1000, int(138_493 * factor)), max(500, int(26_744 * factor**0.5))


def generate(
    n_interactions: int,
    n_users: int | None = None,
    n_items: int | None = None,
    exponent: float = 1.0,
    communities: int = 64,
    taste_noise: float = 0.3,
    min_per_user: int = 5,
    seed: int = 0,
    chunk_users: int = 20_000,
) -> Path:
    """Write (or reuse) the log and return its folder. About ``n_interactions`` pairs (duplicates removed)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    default_users, default_items = sizes_for(n_interactions)
    n_users, n_items = n_users or default_users, n_items or default_items
    settings = {
        "n_interactions": n_interactions,
        "n_users": n_users,
        "n_items": n_items,
        "exponent": exponent,
        "communities": communities,
        "taste_noise": taste_noise,
        "min_per_user": min_per_user,
        "seed": seed,
        "version": 1,
    }
    folder = cache_root() / f"synthetic-{n_interactions}-s{seed}"
    file = folder / "interactions.parquet"
    meta = folder / "settings.json"
    if file.exists() and meta.exists() and json.loads(meta.read_text()).get("settings") == settings:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ranks = np.arange(n_items, dtype=np.float64)
    cdf = np.cumsum((ranks + 10.0) ** -exponent)
    cdf /= cdf[-1]
    global_order = rng.permutation(n_items)  # popularity rank -> item id
    # each community: item ids ordered by (global rank + its own noise)
    noisy = ranks[None, :] * np.exp(taste_noise * rng.normal(size=(communities, n_items)))
    orders = global_order[np.argsort(noisy, axis=1)].astype(np.int32)  # [communities, n_items]
    activity = rng.lognormal(mean=0.0, sigma=1.0, size=n_users)
    target = np.maximum(min_per_user, np.round(activity / activity.sum() * n_interactions)).astype(np.int64)
    target = np.minimum(target, n_items // 2)
    community = rng.integers(0, communities, size=n_users)
    tmp = folder / f".interactions.parquet.{os.getpid()}.tmp"
    written = 0
    schema = pa.schema([("user_id", pa.int32()), ("item_id", pa.int32()), ("timestamp", pa.int64())])
    with pq.ParquetWriter(tmp, schema) as writer:
        for start in range(0, n_users, chunk_users):
            stop = min(start + chunk_users, n_users)
            want = target[start:stop]
            draws = np.ceil(want * 1.25 + 4).astype(np.int64)
            users = np.repeat(np.arange(start, stop, dtype=np.int64), draws)
            picked = np.searchsorted(cdf, rng.random(users.size))
            items = orders[community[users], np.minimum(picked, n_items - 1)].astype(np.int64)
            keys = np.unique(users * n_items + items)
            users, items = keys // n_items, keys % n_items
            # keep a random `want` of each user's distinct items
            priority = rng.random(users.size)
            order = np.lexsort((priority, users))
            users, items = users[order], items[order]
            first = np.searchsorted(users, np.arange(start, stop))
            position = np.arange(users.size) - np.repeat(first, np.diff(np.append(first, users.size)))
            keep = position < want[users - start]
            users, items = users[keep], items[keep]
            stamps = rng.integers(1_000_000_000, 1_600_000_000, size=users.size)
            writer.write_table(
                pa.table(
                    {"user_id": users.astype(np.int32), "item_id": items.astype(np.int32), "timestamp": stamps},
                    schema=schema,
                )
            )
            written += users.size
    os.replace(tmp, file)
    meta.write_text(json.dumps({"settings": settings, "interactions": int(written)}, indent=1))
    return folder


def data_overrides(folder: Path) -> list[str]:
    """recframe overrides reading the generated log with the ``table`` source."""
    return [
        "data=table",
        f"data.path={folder}",
        "data.file=interactions.parquet",
        "data.columns.user=user_id",
        "data.columns.item=item_id",
        "data.columns.timestamp=timestamp",
    ]


def ml20m_sized(n_interactions: int = 12_000_000, seed: int = 0) -> Path:
    """138,493 users x 26,744 items, ``n_interactions`` pairs: ML-20M's shape at rating >= 3.5."""
    return generate(n_interactions, n_users=138_493, n_items=26_744, seed=seed)


if __name__ == "__main__":
    size = int(float(sys.argv[1])) if len(sys.argv) > 1 else 12_000_000
    out = ml20m_sized(size) if size == 12_000_000 else generate(size)
    print(out, json.loads((out / "settings.json").read_text())["interactions"], "interactions")
