"""What a model's scores are made of, found by duck typing: user and item vectors of inner-product
models, item-item weight matrices, and item vectors to compare items by.

These are read-only views of a fitted model; nothing here changes it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn


def user_item_factors(model: nn.Module, users: Tensor) -> tuple[Tensor, Tensor] | None:
    """``(P: float[B, d], Q: float[n_items, d])`` with ``scores(users) = P @ Q.T`` (up to a constant
    per row), or ``None``: ``score_factors`` of factor models (BPR-MF, iALS, GMF, LightGCN's
    propagated embeddings), or the history state and item table of next-item models (SASRec, GRU4Rec)."""
    factors = getattr(model, "score_factors", None)
    found = factors(users) if callable(factors) else None
    if found is not None:
        return found
    state, items = getattr(model, "user_state", None), getattr(model, "item_weights", None)
    if callable(state) and callable(items):
        return state(users), items()
    return None


def item_factors(model: nn.Module) -> Tensor | None:
    """``float[n_items, d]``: the item side of :func:`user_item_factors`, or content vectors; else ``None``."""
    found = user_item_factors(model, torch.zeros(1, dtype=torch.long))
    if found is not None:
        return found[1].detach().float()
    vectors = getattr(model, "item_vectors", None)
    return vectors.detach().float() if isinstance(vectors, Tensor) else None


def item_item_weights(model: nn.Module) -> Any:
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
