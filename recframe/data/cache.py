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
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recframe.atomic import atomic_dir
from recframe.data.interactions import Interactions

log = logging.getLogger(__name__)
FORMAT_VERSION = 2
_ARRAYS = ("user", "item", "rating", "timestamp", "user_ids", "item_ids", "split_labels", "candidates")


def cache_key(source: str, options: dict[str, Any], files: list[Path]) -> str:
    """A short hash of everything the parsed result depends on."""
    stamps = []
    for f in files:
        st = f.stat()
        stamps.append([str(f.resolve()), st.st_size, st.st_mtime_ns])
    blob = json.dumps(
        {"v": FORMAT_VERSION, "source": source, "options": options, "files": stamps}, sort_keys=True, default=str
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def load(entry: Path) -> Interactions | None:
    """The cached table at ``entry``, or ``None`` when absent, unreadable or inconsistent.

    A damaged entry (truncated npz, bad parquet, lengths that disagree with ``meta.json``) is
    treated as a miss, so the caller re-parses and rewrites it; it is never half-loaded.
    """
    meta_file = entry / "meta.json"
    if not meta_file.is_file():
        return None
    try:
        meta = json.loads(meta_file.read_text())
        if meta.get("format_version") != FORMAT_VERSION:
            return None
        with np.load(entry / "arrays.npz", allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        frames = {
            name: pd.read_parquet(entry / f"{name}.parquet") if (entry / f"{name}.parquet").exists() else None
            for name in ("user_features", "item_features")
        }
        data = Interactions(
            n_users=meta["n_users"],
            n_items=meta["n_items"],
            meta=meta["meta"],
            **{k: arrays.get(k) for k in _ARRAYS},
            **frames,
        )
    except Exception as exc:  # noqa: BLE001 - any damage (BadZipFile, ArrowInvalid, ...) is a miss
        log.warning("ignoring unreadable dataset cache %s (%s: %s)", entry, type(exc).__name__, exc)
        return None
    if not _consistent(data, meta):
        log.warning("ignoring inconsistent dataset cache %s", entry)
        return None
    return data


def _consistent(data: Interactions, meta: dict[str, Any]) -> bool:
    """Every per-row array has ``meta['length']`` rows and ids fit their spaces."""
    n = meta.get("length")
    rows = [data.user, data.item, data.rating, data.timestamp, data.split_labels]
    if n is None or any(a is not None and len(a) != n for a in rows):
        return False
    if len(data.user_ids) != data.n_users or len(data.item_ids) != data.n_items:
        return False
    return n == 0 or (int(data.user.max()) < data.n_users and int(data.item.max()) < data.n_items)


def sweep_stale(entry: Path, max_age_s: float = 3600.0) -> int:
    """Remove temporary folders of writers killed mid-write (``.<entry>.*.tmp`` older than ``max_age_s``).

    They never load (their names are not entries); this only reclaims their space. Returns the count.
    """
    import shutil
    import time

    removed = 0
    if not entry.parent.is_dir():
        return 0
    for tmp in entry.parent.glob(f".{entry.name}.*.tmp"):
        try:
            if time.time() - tmp.stat().st_mtime > max_age_s:
                shutil.rmtree(tmp, ignore_errors=True)
                removed += 1
        except OSError:
            continue
    return removed


def discard(entry: Path) -> None:
    """Remove a damaged or outdated entry (renamed first, so no reader sees it half-removed)."""
    import os
    import shutil
    import uuid

    if not entry.exists():
        return
    doomed = entry.parent / f".{entry.name}.{uuid.uuid4().hex[:8]}.discarded.tmp"
    try:
        os.rename(entry, doomed)
    except OSError:  # another process replaced or removed it first
        return
    shutil.rmtree(doomed, ignore_errors=True)


def store(entry: Path, data: Interactions) -> None:
    """Write ``data`` to ``entry`` atomically (and sweep stale temporaries of killed writers)."""
    sweep_stale(entry)
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
        meta = {
            "format_version": FORMAT_VERSION,
            "n_users": data.n_users,
            "n_items": data.n_items,
            "length": len(data),
            "meta": data.meta,
        }
        (tmp / "meta.json").write_text(json.dumps(meta, default=str))
