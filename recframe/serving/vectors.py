"""What a model's scores are made of, read through the methods :class:`recframe.models.Recommender`
declares: user and item vectors of inner-product models (``serving_factors``), and item-item weight
matrices to compare items by.

These are read-only views of a fitted model; nothing here changes it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from recframe.models import Recommender


def user_item_factors(model: Recommender, users: Tensor) -> tuple[Tensor, Tensor] | None:
    """``(P: float[B, d], Q: float[n_items, d])`` with ``scores(users) = P @ Q.T`` (up to a constant
    per row), or ``None``: the model's ``serving_factors`` (by default its ``score_factors``: BPR-MF,
    iALS, GMF, LightGCN's propagated embeddings; the history state and item table of SASRec and GRU4Rec;
    content kNN's profiles and item vectors)."""
    return model.serving_factors(users)


def item_factors(model: Recommender) -> Tensor | None:
    """``float[n_items, d]``: the item side of :func:`user_item_factors`, or ``None``."""
    found = user_item_factors(model, torch.zeros(1, dtype=torch.long))
    return found[1].detach().float() if found is not None else None


def item_item_weights(model: Recommender) -> Any:
    """A fitted ``n_items x n_items`` matrix ``W`` with ``scores = x_u @ W`` (EASE's ``B``, ItemKNN's
    similarities, and any such model: found as a square attribute or buffer), or ``None``."""
    n = int(model.n_items)
    for value in [*model._buffers.values(), *vars(model).values()]:
        if isinstance(value, Tensor) and value.dim() == 2 and tuple(value.shape) == (n, n):
            return value
        if sp.issparse(value) and value.shape == (n, n):
            return value.tocsr()
    return None


def weight_row(weights: Any, item: int) -> np.ndarray:
    """``float32[n_items]``: row ``item`` of an item-item matrix (dense tensor or sparse)."""
    if isinstance(weights, Tensor):
        return weights[item].detach().float().cpu().numpy()
    return np.asarray(weights[item].toarray(), dtype=np.float32).ravel()
