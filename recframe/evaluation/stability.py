"""Stability of results: spread over seeds and churn of the top-K lists between runs.

* :func:`aggregate` takes several runs' ``results.json`` contents (e.g. the same config over seeds)
  and returns, per metric, the mean, the sample standard deviation (``ddof=1``; 0 for one run) and
  the values.
* :func:`churn` compares two runs' saved test top-K lists (``topk.npz``: ``users: int64[n]``,
  ``items: int32[n, K]``, ``-1`` padded) on their common users: the mean Jaccard overlap
  ``|A_u ∩ B_u| / |A_u ∪ B_u|`` of the per-user top-K sets, and churn = 1 - overlap.
"""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from recframe.errors import DataError


def aggregate(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``{metric_key: {"mean", "std", "n", "values"}}`` over the runs that report the key."""
    keys = sorted({k for r in results for k in r.get("metrics", {})})
    out: dict[str, dict[str, Any]] = {}
    for key in keys:
        values = np.array([r["metrics"][key] for r in results if key in r.get("metrics", {})], dtype=np.float64)
        out[key] = {
            "mean": float(values.mean()),
            "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
            "n": int(len(values)),
            "values": values.tolist(),
        }
    return out


def jaccard(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``float64[n]`` Jaccard overlap of the rows of ``a: int[n, K]`` and ``b: int[n, K']`` (``-1`` ignored).

    Rows must not repeat an item (top-K lists do not). Two empty rows overlap fully (1.0).
    """
    va, vb = a >= 0, b >= 0
    inter = ((a[:, :, None] == b[:, None, :]) & va[:, :, None] & vb[:, None, :]).sum(axis=(1, 2))
    union = va.sum(axis=1) + vb.sum(axis=1) - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def churn(topk_a: dict[str, np.ndarray], topk_b: dict[str, np.ndarray], k: int | None = None) -> dict[str, float]:
    """Mean Jaccard overlap and churn of two runs' top-``k`` lists (default: every position both saved)."""
    common, ia, ib = np.intersect1d(topk_a["users"], topk_b["users"], return_indices=True)
    if len(common) == 0:
        raise DataError("the two runs have no test user in common; churn is undefined")
    a, b = topk_a["items"][ia], topk_b["items"][ib]
    k = min(a.shape[1], b.shape[1]) if k is None else k  # lists of different length: the common prefix
    a, b = a[:, :k], b[:, :k]
    overlap = float(jaccard(a, b).mean())
    return {
        "overlap": overlap,
        "churn": 1.0 - overlap,
        "users": int(len(common)),
        "k": int(min(a.shape[1], b.shape[1])),
    }


def load_results(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / "results.json"
    if not path.is_file():
        raise DataError(f"{path} not found; pass run directories that hold a results.json")
    return json.loads(path.read_text())


def load_topk(run_dir: str | Path) -> dict[str, np.ndarray]:
    path = Path(run_dir) / "topk.npz"
    if not path.is_file():
        raise DataError(f"{path} not found; the run predates saved top-K lists, rerun it")
    with np.load(path, allow_pickle=False) as z:
        return {"users": z["users"], "items": z["items"]}


def pairwise_churn(run_dirs: list[str | Path], k: int | None = None) -> list[dict[str, Any]]:
    """Churn for every pair of runs: ``[{"a", "b", "overlap", "churn", "users", "k"}]``."""
    lists = [load_topk(d) for d in run_dirs]
    return [
        {"a": str(run_dirs[i]), "b": str(run_dirs[j]), **churn(lists[i], lists[j], k)}
        for i, j in combinations(range(len(run_dirs)), 2)
    ]
