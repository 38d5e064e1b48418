"""Gradient explanations of torch models that score from the user's history row (Mult-VAE, and any model
implementing ``row_inputs``/``score_rows``): which history items the score of a recommendation rests on.

The model reads ``h = row_inputs(x_u)`` (Mult-VAE, D. Liang et al., WWW 2018: the L2-normalised binary
row ``x_u: float[n_items]``) and scores every item as ``s = score_rows(h)``. Attributing over ``h``,
not the raw row, matters: Mult-VAE's normalisation makes ``s(a x) = s(x)`` for every ``a > 0``, so
attributions over the raw row would sum to zero along any straight path and say nothing about
``s(x) - s(0)``.

* ``row_gradient_input``: the weight of history item ``j`` for item ``i`` is ``h_j * d s_i / d h_j``
  (gradient x input, Shrikumar et al., 2016); a first-order split of the score;
* ``row_integrated_gradients``: integrated gradients (Sundararajan et al., ICML 2017;
  ``recframe.api.integrated_gradients``: Captum when installed, else recframe's midpoint rule) of
  ``s_i`` over ``h`` from the empty history ``row_inputs(0)``; they sum to ``s_i(x_u) - s_i(empty)`` up
  to the integration error (completeness).

Units are the user's history items (the non-zeros of ``model.history[user]``); removing some zeroes
them in the row, which ``row_inputs`` then normalises again: the model's own score for that shorter
history. The deletion variants of one user are scored as one stack of rows (:meth:`rescore_many`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from recframe.api import Explainer, HistoryItemReason, Reason, integrated_gradients


class HistoryRowExplainer(Explainer):
    """What both row explainers share: units are the history row's items, rescoring zeroes some of them."""

    models: ClassVar[tuple[str, ...]] = ("multvae",)
    unit_kind = "history_item"

    def supports(self, model: Any) -> bool:
        """A model with a users x items sparse ``history`` whose ``row_inputs`` is implemented."""
        history: Any = getattr(model, "history", None)
        if not (sp.issparse(history) and history.shape == (model.n_users, model.n_items)):
            return False
        probe = getattr(model, "row_inputs", None)
        return callable(probe) and probe(torch.zeros(1, model.n_items, device=self._device(model))) is not None

    @staticmethod
    def _device(model: Any) -> torch.device:
        first = next(iter(model.parameters()), None)
        return first.device if first is not None else torch.device("cpu")

    def _row(self, model: Any, user: int) -> tuple[np.ndarray, np.ndarray]:
        """``(items: int64[n], values: float32[n])``: the user's history row."""
        row = model.history[int(user)]
        return np.asarray(row.indices, dtype=np.int64), np.asarray(row.data, dtype=np.float32)

    def units(self, model: Any, user: int) -> np.ndarray:
        return self._row(model, user)[0]

    def dense_rows(self, model: Any, user: int, removals: Sequence[Sequence[int]]) -> Tensor:
        """``float32[V, n_items]``: the user's row once per removal, with the removed items zeroed."""
        items, values = self._row(model, user)
        rows = torch.zeros(len(removals), model.n_items, dtype=torch.float32)
        rows[:, torch.as_tensor(items)] = torch.as_tensor(values)
        for v, removed in enumerate(removals):
            if len(removed):
                rows[v, torch.as_tensor(np.asarray(list(removed), dtype=np.int64))] = 0.0
        return rows.to(self._device(model))

    @torch.no_grad()
    def rescore(self, model: Any, user: int, removed: Sequence[int]) -> Tensor:
        return self.rescore_many(model, user, [removed])[0]

    @torch.no_grad()
    def rescore_many(self, model: Any, user: int, removals: Sequence[Sequence[int]]) -> Tensor:
        """``float64[V, n_items]``: the scores of every removal variant, the rows stacked into one call."""
        if not len(removals):
            return torch.zeros(0, model.n_items, dtype=torch.float64)
        return model.score_rows(model.row_inputs(self.dense_rows(model, user, removals))).double().cpu()

    def inputs(self, model: Any, user: int) -> Tensor:
        """``float[n_items]``: the network input ``h`` of the user's full history."""
        with torch.no_grad():
            return model.row_inputs(self.dense_rows(model, user, [[]]))[0]

    def item_weights(self, model: Any, user: int, items: Tensor) -> np.ndarray:
        """``float64[m, n]``: the weight of each history item (columns in :meth:`units` order) for each item."""
        raise NotImplementedError

    def explain(self, model: Any, user: int, items: Tensor, k_reasons: int = 5) -> list[list[Reason]]:
        history = self.units(model, user)
        weights = self.item_weights(model, user, items)
        return self.ranked(weights, history, lambda w, j: HistoryItemReason(weight=w, unit=j, item=j), k_reasons)


class RowGradientInput(HistoryRowExplainer):
    """``h_j * d s_i / d h_j`` per history item ``j`` (one backward pass for all the items)."""

    def item_weights(self, model: Any, user: int, items: Tensor) -> np.ndarray:
        history = torch.as_tensor(self.units(model, user))
        targets = items.to(torch.long).view(-1)
        h = self.inputs(model, user).unsqueeze(0).repeat(len(targets), 1)  # [m, n_items]: one copy per item
        h.requires_grad_(True)
        with torch.enable_grad():
            scores = model.score_rows(h)  # [m, n_items]
            picked = scores.gather(1, targets.view(-1, 1).to(scores.device)).sum()
            (grad,) = torch.autograd.grad(picked, h)
        return (grad * h)[:, history].detach().double().cpu().numpy()


class RowIntegratedGradients(HistoryRowExplainer):
    """Integrated gradients of ``s_i`` over ``h`` from the empty history's input, per history item."""

    steps = 32
    auto_rank = 1

    def baseline(self, model: Any) -> Tensor:
        """``float[n_items]``: the input of an empty history (zeros for Mult-VAE)."""
        with torch.no_grad():
            return model.row_inputs(torch.zeros(1, model.n_items, device=self._device(model)))[0]

    def item_weights(self, model: Any, user: int, items: Tensor) -> np.ndarray:
        history = torch.as_tensor(self.units(model, user))
        h, base = self.inputs(model, user), self.baseline(model)
        rows = []
        for i in items.view(-1).tolist():

            def score(path: Tensor, _i: int = int(i)) -> Tensor:  # [N, n_items] -> [N]
                return model.score_rows(path)[:, _i]

            attr = integrated_gradients(score, h, baseline=base, steps=self.steps)
            rows.append(attr[history].double().cpu().numpy())
        return np.stack(rows) if rows else np.zeros((0, len(history)))
