"""Explanations of factor models (iALS, BPR-MF and any model with item factors) through the fold-in
solution: which history items' factors align with the recommended item.

Y. Hu, Y. Koren, C. Volinsky, *Collaborative Filtering for Implicit Feedback Datasets*, ICDM 2008,
section 5 ("Explaining recommendations"): with ``A = Q^T Q + alpha Q_h^T Q_h + reg I`` the user's
least-squares factor is ``p = A^{-1} (1 + alpha) sum_{j in h} q_j``, so the fold-in score of item ``i``
splits exactly over the history: ``q_i^T p = sum_j (1 + alpha) q_i^T A^{-1} q_j``. The reason weight
of history item ``j`` is that term (iALS: its own ``alpha`` and ``reg_weight``; others: recframe's
fold-in defaults, ``recframe/serving/foldin.py``). Units are the history items (the user's training
items); removing some re-solves the fold-in without them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from recframe.api import Explainer, HistoryItemReason, Reason, least_squares_fold_in

FOLD_IN_ALPHA = 10.0  # recframe's fold-in default for models without their own (serving/foldin.py)
FOLD_IN_REG = 0.01  # reg = FOLD_IN_REG * trace(Q^T Q) / d, the same default


def _fold_in_params(model: Any) -> tuple[float, float | None]:
    """``(alpha, reg)`` of the model's own user step (iALS) or the fold-in defaults (``reg=None``)."""
    if hasattr(model, "alpha") and hasattr(model, "reg") and hasattr(model, "cg_steps"):
        return float(model.alpha), float(model.reg)
    return FOLD_IN_ALPHA, None


class FactorFoldInExplainer(Explainer):
    """History items weighted by ``(1 + alpha) q_i^T A^{-1} q_j`` (exact for the fold-in score)."""

    models = ("ials", "bpr", "gmf", "lightgcn", "puresvd")
    exact = True
    unit_kind = "history_item"

    def supports(self, model: Any) -> bool:
        if getattr(model, "uses_history", False):
            return False
        try:
            return model.serving_factors(torch.zeros(1, dtype=torch.long)) is not None
        except Exception:
            return False

    def _item_factors(self, model: Any) -> Tensor:
        return model.serving_factors(torch.zeros(1, dtype=torch.long))[1].detach().double().cpu()

    def units(self, model: Any, user: int) -> np.ndarray:
        return np.unique(np.asarray(self.user_history(user), dtype=np.int64))

    def contributions(self, model: Any, user: int, items: Tensor) -> tuple[np.ndarray, np.ndarray]:
        """``(history: int64[n], weights: float64[m, n])``; each row sums to the item's fold-in score."""
        hist = self.units(model, user)
        q = self._item_factors(model)
        alpha, reg = _fold_in_params(model)
        gram = q.T @ q
        if reg is None:
            reg = 0.01 * float(torch.trace(gram)) / q.shape[1]
        qh = q[torch.as_tensor(hist)]
        a = gram + alpha * (qh.T @ qh) + reg * torch.eye(q.shape[1], dtype=q.dtype)
        z = torch.linalg.solve(a, q[torch.as_tensor(np.asarray(items.cpu(), dtype=np.int64))].T)  # [d, m]
        weights = (1.0 + alpha) * (qh @ z).T  # [m, n]
        return hist, weights.numpy()

    def explain(self, model: Any, user: int, items: Tensor, k_reasons: int = 5) -> list[list[Reason]]:
        hist, weights = self.contributions(model, user, items)
        return self.ranked(weights, hist, lambda w, j: HistoryItemReason(weight=w, unit=j, item=j), k_reasons)

    @torch.no_grad()
    def rescore(self, model: Any, user: int, removed: Sequence[int]) -> Tensor:
        hist = self.units(model, user)
        kept = hist[~np.isin(hist, np.asarray(list(removed), dtype=np.int64))]
        q = self._item_factors(model)
        if len(kept) == 0:
            return torch.zeros(q.shape[0], dtype=torch.float64)
        alpha, reg = _fold_in_params(model)
        return least_squares_fold_in(q, torch.as_tensor(kept), alpha, reg).double()

    @torch.no_grad()
    def rescore_many(self, model: Any, user: int, removals: Sequence[Sequence[int]]) -> Tensor:
        """``float64[V, n_items]``: the fold-in of every removal variant as one batched solve
        ``A_v p_v = (1 + alpha) Q_{h_v}^T 1`` with ``A_v = Q^T Q + alpha Q_{h_v}^T Q_{h_v} + reg I`` (``Q^T Q``
        formed once), then one product ``P Q^T``; rounded through float32 as :meth:`rescore` is."""
        hist = self.units(model, user)
        q = self._item_factors(model)
        out = torch.zeros(len(removals), q.shape[0], dtype=torch.float64)
        kept = [hist[~np.isin(hist, np.asarray(list(r), dtype=np.int64))] for r in removals]
        rows = [v for v, k in enumerate(kept) if len(k)]
        if not rows:
            return out
        alpha, reg = _fold_in_params(model)
        gram = q.T @ q
        if reg is None:
            reg = FOLD_IN_REG * float(torch.trace(gram)) / q.shape[1]
        eye = reg * torch.eye(q.shape[1], dtype=q.dtype)
        lhs, rhs = [], []
        for v in rows:
            qh = q[torch.as_tensor(kept[v])]
            lhs.append(gram + alpha * (qh.T @ qh) + eye)
            rhs.append((1.0 + alpha) * qh.sum(dim=0))
        users = torch.linalg.solve(torch.stack(lhs), torch.stack(rhs))  # [V', d]
        out[torch.as_tensor(rows)] = (users @ q.T).float().double()
        return out
