"""Exact explanations of item-item models, ``scores = x_u @ W`` (EASE, ItemKNN, SLIM, ...).

H. Steck, *Embarrassingly Shallow Autoencoders for Sparse Data*, WWW 2019 (EASE); B. Sarwar et al.,
*Item-Based Collaborative Filtering Recommendation Algorithms*, WWW 2001 (item kNN).

The score of item ``i`` is a sum over the user's history: ``s(u, i) = sum_j x_uj W_ji``, so the reason
for ``i`` is each history item ``j`` with weight ``x_uj W_ji``; the weights sum to the score exactly.
Units are the history items; removing some sets their ``x_uj`` to zero and re-scores every item
(the model's scores minus the removed items' rows of ``W``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from recframe.api import Explainer, HistoryItemReason, Reason, item_item_weights


def _dense_rows(weights: Any, rows: np.ndarray) -> np.ndarray:
    """``float64[len(rows), n_items]``: rows of an item-item matrix (tensor or sparse)."""
    if isinstance(weights, Tensor):
        return weights[torch.as_tensor(rows, dtype=torch.long)].detach().double().cpu().numpy()
    return np.asarray(weights[rows].toarray(), dtype=np.float64)


class ItemWeightsExplainer(Explainer):
    """History items weighted by ``x_uj W_ji`` (exact: they sum to the model's score)."""

    models = ("ease", "itemknn", "slim", "p3alpha", "rp3beta")
    exact = True
    unit_kind = "history_item"

    def supports(self, model: Any) -> bool:
        """A fitted model scoring ``x_u @ W`` (a users x items ``history`` and a square weight matrix);
        before fitting (``history`` still None), a model with a ``history`` slot and no history of its own."""
        if getattr(model, "uses_history", False) or not hasattr(model, "history") or hasattr(model, "user_weights"):
            return False
        history = model.history
        if history is None:
            return True  # not fitted yet: checked again once it is
        return (
            sp.issparse(history)
            and history.shape == (model.n_users, model.n_items)
            and item_item_weights(model) is not None
        )

    def _row(self, model: Any, user: int) -> tuple[np.ndarray, np.ndarray]:
        row = model.history[user]
        return np.asarray(row.indices, dtype=np.int64), np.asarray(row.data, dtype=np.float64)

    def units(self, model: Any, user: int) -> np.ndarray:
        return self._row(model, user)[0]

    def contributions(self, model: Any, user: int, items: Tensor) -> tuple[np.ndarray, np.ndarray]:
        """``(history: int64[n], weights: float64[m, n])``: ``x_uj W_ji`` of every history item ``j``
        for each item ``i`` of ``items: long[m]``; row sums are the scores."""
        hist, values = self._row(model, user)
        w = _dense_rows(item_item_weights(model), hist)  # [n, n_items]
        return hist, (w[:, np.asarray(items.cpu(), dtype=np.int64)] * values[:, None]).T

    def explain(self, model: Any, user: int, items: Tensor, k_reasons: int = 5) -> list[list[Reason]]:
        hist, weights = self.contributions(model, user, items)
        return self.ranked(weights, hist, lambda w, j: HistoryItemReason(weight=w, unit=j, item=j), k_reasons)

    @torch.no_grad()
    def rescore(self, model: Any, user: int, removed: Sequence[int]) -> Tensor:
        """``x_u W`` minus the rows of the removed items (``x_uj W_j``): the model's own scores, then a
        few rows subtracted, instead of the whole product again."""
        hist, values = self._row(model, user)
        scores = model.score_all(torch.tensor([int(user)]))[0].double().cpu()
        drop = np.isin(hist, np.asarray(list(removed), dtype=np.int64))
        if drop.any():
            w = _dense_rows(item_item_weights(model), hist[drop])
            scores -= torch.from_numpy(values[drop] @ w)
        return scores

    @torch.no_grad()
    def rescore_many(self, model: Any, user: int, removals: Sequence[Sequence[int]]) -> Tensor:
        """``float64[V, n_items]``: the model's scores once, minus ``D @ W_R`` for the rows ``W_R`` of every
        item some removal drops and ``D[v, j] = x_uj`` where removal ``v`` drops ``j``: one product."""
        hist, values = self._row(model, user)
        scores = model.score_all(torch.tensor([int(user)]))[0].double().cpu()
        drop = np.stack([np.isin(hist, np.asarray(list(r), dtype=np.int64)) for r in removals]) if removals else None
        if drop is None:
            return torch.zeros(0, model.n_items, dtype=torch.float64)
        used = drop.any(axis=0)
        out = scores.unsqueeze(0).repeat(len(removals), 1)
        if used.any():
            w = _dense_rows(item_item_weights(model), hist[used])  # [u, n_items]
            out -= torch.from_numpy((drop[:, used] * values[used]) @ w)
        return out
