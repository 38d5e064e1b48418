"""An approximate top-K index for models whose scores are inner products (``recframe serve --index ann``).

faiss (``recframe[ann]``, the ``faiss-cpu`` package) builds an HNSW graph over the item vectors
``Q: float[n_items, d]`` with inner-product search; a query is the user's vector ``P[u]``
(:func:`recframe.serving.vectors.user_item_factors`: factor models, and the history state of
SASRec/GRU4Rec). The index returns ``k`` plus as many items as the batch's most active user has
seen, so masking what they saw still leaves ``k`` (HNSW may return fewer). Items the run's cold
fallback ranks last (``unseen_items``: absent from training) are left out. Its recall@k against the
exact ranking is measured at build time on a seeded sample of users and reported (``describe``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from recframe.errors import ConfigError
from recframe.serving.vectors import user_item_factors

RECALL_SAMPLE_USERS = 500


class AnnIndex:
    """HNSW inner-product index over a loaded model's item vectors."""

    def __init__(
        self,
        handle: Any,
        m: int = 32,
        ef_search: int = 128,
        ef_construction: int = 200,
        recall_k: int = 10,
        sample_users: int = RECALL_SAMPLE_USERS,
        seed: int = 0,
    ) -> None:
        try:
            import faiss
        except ImportError:
            raise ConfigError("--index ann needs faiss: pip install 'recframe[ann]' (the faiss-cpu package)") from None
        found = user_item_factors(handle.model, torch.zeros(1, dtype=torch.long))
        if found is None:
            raise ConfigError(
                f"--index ann needs a model whose scores are inner products of user and item "
                f"vectors (BPR-MF, iALS, LightGCN, SASRec, ...); '{handle.model_name}' is not one: "
                f"use --index exact"
            )
        q = np.ascontiguousarray(found[1].detach().float().cpu().numpy())
        unseen = getattr(handle.model, "unseen_items", None)  # the cold fallback ranks these last: leave them out
        self.unseen = np.asarray(unseen.cpu().numpy() if unseen is not None else [], dtype=np.int64)
        self.dim = q.shape[1]
        self.m, self.ef_search = int(m), int(ef_search)
        self.index = faiss.IndexHNSWFlat(self.dim, self.m, faiss.METRIC_INNER_PRODUCT)
        self.index.hnsw.efConstruction = int(ef_construction)
        self.index.add(q)
        self.index.hnsw.efSearch = self.ef_search
        self.recall_k = min(int(recall_k), handle.n_items)
        self.recall = self.measure_recall(handle, sample_users, seed)

    def user_vectors(self, handle: Any, users: np.ndarray) -> np.ndarray:
        found = user_item_factors(handle.model, torch.as_tensor(users))
        return np.ascontiguousarray(found[0].detach().float().cpu().numpy())

    @torch.no_grad()
    def search(self, handle: Any, users: np.ndarray, k: int, exclude_seen: bool) -> tuple[Tensor, Tensor]:
        """``(items: long[B, k], scores: float[B, k])``, ``-1``/``-inf`` where the graph found fewer."""
        seen = handle.seen[users]
        extra = (int(np.diff(seen.indptr).max()) if exclude_seen and len(users) else 0) + len(self.unseen)
        width = min(k + extra, handle.n_items)
        scores, items = self.index.search(self.user_vectors(handle, users), width)
        top = np.full((len(users), k), -1, dtype=np.int64)
        out = np.full((len(users), k), -np.inf, dtype=np.float32)
        for b in range(len(users)):
            keep = items[b] >= 0
            if len(self.unseen):
                keep &= ~np.isin(items[b], self.unseen)
            if exclude_seen:
                keep &= ~np.isin(items[b], seen.indices[seen.indptr[b] : seen.indptr[b + 1]])
            row_items, row_scores = items[b][keep][:k], scores[b][keep][:k]
            top[b, : len(row_items)], out[b, : len(row_items)] = row_items, row_scores
        return torch.from_numpy(top), torch.from_numpy(out)

    def measure_recall(self, handle: Any, sample_users: int, seed: int) -> float:
        """Mean ``|ANN top-k & exact top-k| / k`` over a seeded sample of users with history."""
        warm = np.flatnonzero(~handle.cold)
        rng = np.random.default_rng(seed)
        users = np.sort(rng.choice(warm, size=min(int(sample_users), len(warm)), replace=False))
        exact, _ = handle.top_internal(users, self.recall_k)
        approx, _ = self.search(handle, users, self.recall_k, True)
        hits = [len(np.intersect1d(a[a >= 0], e[e >= 0])) for a, e in zip(approx.numpy(), exact.numpy(), strict=True)]
        self.sample = len(users)
        return float(np.mean(hits) / self.recall_k) if hits else float("nan")

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "ann",
            "library": "faiss",
            "structure": f"HNSW (M={self.m}, efSearch={self.ef_search})",
            "metric": "inner product",
            "dim": self.dim,
            f"recall@{self.recall_k}": round(self.recall, 4),
            "recall_sample_users": self.sample,
        }


def attach_index(handle: Any, kind: str) -> None:
    """Give ``handle`` the ``exact`` (default: none) or ``ann`` index."""
    if kind == "exact":
        handle.index = None
        return
    if kind != "ann":
        raise ConfigError(f"--index must be 'exact' or 'ann', got {kind!r}")
    index = AnnIndex(handle)  # measures recall with the exact ranking (handle.index still None)
    handle.index = index
