"""Exact explanations of user-based kNN, ``s(u, i) = sum_v S[u, v] x_vi`` (Herlocker et al., SIGIR 1999):
the neighbour users who interacted with the item, weighted by ``S[u, v] x_vi``; the weights sum to the
score. Units are the user's neighbours; removing some drops their terms (``S[u, v] = 0``) and
re-scores every item.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from recframe.api import Explainer, NeighbourReason, Reason


class NeighbourUsersExplainer(Explainer):
    """Neighbour users weighted by ``S[u, v] x_vi`` (exact)."""

    models = ("userknn",)
    exact = True
    unit_kind = "neighbour_user"

    def supports(self, model: Any) -> bool:
        if not hasattr(model, "user_weights") or not hasattr(model, "history"):
            return False
        s = model.user_weights
        return s is None or (sp.issparse(s) and s.shape == (model.n_users, model.n_users))

    def _neighbours(self, model: Any, user: int) -> tuple[np.ndarray, np.ndarray]:
        row = model.user_weights[int(user)]
        return np.asarray(row.indices, dtype=np.int64), np.asarray(row.data, dtype=np.float64)

    def units(self, model: Any, user: int) -> np.ndarray:
        return self._neighbours(model, user)[0]

    def explain(self, model: Any, user: int, items: Tensor, k_reasons: int = 5) -> list[list[Reason]]:
        users, sims = self._neighbours(model, user)
        x = np.asarray(model.history[users][:, np.asarray(items.cpu(), dtype=np.int64)].toarray(), dtype=np.float64)
        weights = (x * sims[:, None]).T  # [m, n]
        return self.ranked(weights, users, lambda w, v: NeighbourReason(weight=w, unit=v, user=v), k_reasons)

    @torch.no_grad()
    def rescore(self, model: Any, user: int, removed: Sequence[int]) -> Tensor:
        users, sims = self._neighbours(model, user)
        keep = ~np.isin(users, np.asarray(list(removed), dtype=np.int64))
        x = model.history[users[keep]]
        return torch.from_numpy(np.asarray(x.T @ sims[keep], dtype=np.float64).ravel())

    @torch.no_grad()
    def rescore_many(self, model: Any, user: int, removals: Sequence[Sequence[int]]) -> Tensor:
        """``float64[V, n_items]``: ``S_V X_N`` for the neighbours' rows ``X_N`` and one similarity row per
        removal (the removed neighbours' similarities zeroed): one sparse product."""
        users, sims = self._neighbours(model, user)
        keep = np.stack([~np.isin(users, np.asarray(list(r), dtype=np.int64)) for r in removals])  # [V, n]
        x = model.history[users]
        return torch.from_numpy(np.asarray((x.T @ (keep * sims[None, :]).T).T, dtype=np.float64))
