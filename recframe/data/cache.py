"""A binary cache of parsed datasets, keyed by source, options and source-file stamps.

Each entry is a folder ``<cache>/datasets/<source>-<key>/`` holding ``arrays.npz`` (uncompressed,
memory-friendly), optional ``user_features.parquet`` / ``item_features.parquet`` and
``meta.json``. Entries are written into a temporary folder and renamed into place, so an
interrupted write never leaves an entry that loads. Changing a source file (size or modification
time) changes the key, so stale entries are simply never read again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recframe.atomic import atomic_dir
from recframe.data.interactions import Interactions

FORMAT_VERSION = 1
_ARRAYS = ("user", "item", "rating", "timestamp", "user_ids", "item_ids", "split_labels", "candidates")


def cache_key(source: str, options: dict[str, Any], files: list[Path]) -> str:
    """A short hash of everything the parsed result depends on."""
    stamps = []
    for f in files:
        st = f.stat()
        stamps.append([str(f.resolve()), st.st_size, st.st_mtime_ns])
    blob = json.dumps({"v": FORMAT_VERSION, "source": source, "options": options, "files": stamps},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def load(entry: Path) -> Interactions | None:
    """The cached table at ``entry``, or ``None`` when absent or unreadable."""
    meta_file = entry / "meta.json"
    if not meta_file.is_file():
        return None
    try:
        meta = json.loads(meta_file.read_text())
        with np.load(entry / "arrays.npz", allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        frames = {name: pd.read_parquet(entry / f"{name}.parquet") if (entry / f"{name}.parquet").exists() else None
                  for name in ("user_features", "item_features")}
    except (OSError, ValueError, KeyError):
        return None
    return Interactions(n_users=meta["n_users"], n_items=meta["n_items"], meta=meta["meta"],
                        **{k: arrays.get(k) for k in _ARRAYS}, **frames)


def store(entry: Path, data: Interactions) -> None:
    """Write ``data`` to ``entry`` atomically."""
    with atomic_dir(entry) as tmp:
        arrays = {}
        for k in _ARRAYS:
            v = getattr(data, k)
            if v is None:
                continue
            if v.dtype == object:
                v = v.astype(str)
            arrays[k] = v
        np.savez(tmp / "arrays.npz", **arrays)
        for name in ("user_features", "item_features"):
            frame = getattr(data, name)
            if frame is not None:
                frame.to_parquet(tmp / f"{name}.parquet", index=False)
        meta = {"format_version": FORMAT_VERSION, "n_users": data.n_users, "n_items": data.n_items,
                "meta": data.meta}
        (tmp / "meta.json").write_text(json.dumps(meta, default=str))
