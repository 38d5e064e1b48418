"""Scores for a user the model has never seen, from a list of items (fold-in).

A model that knows how to read a new history defines
:meth:`recframe.models.Recommender.fold_in` (``items: long[n] -> float[n_items]``): Pop (its
popularity list), iALS (its own least-squares user step), SASRec and GRU4Rec (the state after the
last item), content kNN (the mean of the items' content vectors). For the others, in this order:

* ``history_row``: a model that scores users from the rows of its declared ``history`` (a users x
  items sparse matrix: EASE, ItemKNN, SLIM, P3alpha, Mult-VAE and any ``x_u @ W`` model) scores the
  new row through its own ``score_all``, with the row swapped in for the call;
* ``least_squares``: a model with ``serving_factors`` (BPR-MF, GMF, LightGCN) gets one iALS user step
  against its item factors: ``p = (Q^T Q + alpha Q_h^T Q_h + reg I)^-1 (1 + alpha) Q_h^T 1`` over the
  item factors ``Q`` (LightGCN: the propagated item embeddings its scores use) and the history rows
  ``Q_h``, with ``alpha = 10`` and ``reg = 0.01 * trace(Q^T Q) / d``
  (:func:`least_squares_fold_in`, which iALS calls with its own ``alpha`` and ``reg_weight``);
* anything else is a one-line error.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from recframe.errors import ConfigError
from recframe.models import Recommender
from recframe.serving.vectors import user_item_factors

FOLD_IN_ALPHA = 10.0
FOLD_IN_REG = 0.01


def history_row_model(model: Recommender) -> bool:
    """Does ``score_all`` read the user's row of a sparse ``history`` (EASE, ItemKNN, Mult-VAE)?"""
    history = getattr(model, "history", None)  # declared on Recommender without a class default
    return sp.issparse(history) and history.shape == (model.n_users, model.n_items)


def least_squares_user(item_factors: Tensor, items: np.ndarray | Tensor, alpha: float, reg: float | None) -> Tensor:
    """``float64[d]``: the iALS user step for a history ``items: long[n]`` against ``item_factors:
    float[n_items, d]`` (float64 solve); ``reg=None``: ``0.01 * trace(Q^T Q) / d``."""
    q = item_factors.detach().double().cpu()
    qh = q[torch.as_tensor(np.asarray(items), dtype=torch.long)]
    gram = q.T @ q
    if reg is None:
        reg = FOLD_IN_REG * float(torch.trace(gram)) / q.shape[1]
    lhs = gram + alpha * (qh.T @ qh) + reg * torch.eye(q.shape[1], dtype=q.dtype)
    return torch.linalg.solve(lhs, (1.0 + alpha) * qh.sum(dim=0))


def least_squares_fold_in(
    item_factors: Tensor, items: Tensor, alpha: float = FOLD_IN_ALPHA, reg: float | None = None
) -> Tensor:
    """``float32[n_items]``: scores ``Q p`` of the least-squares user ``p`` (:func:`least_squares_user`)
    for a history ``items: long[n]`` against ``item_factors Q: float[n_items, d]``."""
    p = least_squares_user(item_factors, items, alpha, reg)
    return (item_factors.detach().double().cpu() @ p).float()


def fold_in_kind(model: Recommender) -> str:
    """How :func:`fold_in_scores` treats ``model``: ``model`` (its own ``fold_in``), ``history_row``,
    ``least_squares`` or ``none``."""
    if type(model).fold_in is not Recommender.fold_in:
        return "model"
    if history_row_model(model):
        return "history_row"
    if user_item_factors(model, torch.zeros(1, dtype=torch.long)) is not None:
        return "least_squares"
    return "none"


def _history_row_scores(model: Recommender, items: np.ndarray) -> Tensor:
    """``score_all`` of a one-row ``history`` holding ``items`` (the model's own rows put back after)."""
    saved = model.history
    unique = np.unique(items)
    row = sp.csr_matrix(
        (np.ones(len(unique), dtype=saved.dtype), (np.zeros(len(unique), dtype=np.int64), unique)),
        shape=(1, model.n_items),
    )
    try:
        model.history = row
        return model.score_all(torch.zeros(1, dtype=torch.long)).view(-1).float()
    finally:
        model.history = saved


@torch.no_grad()
def fold_in_scores(model: Recommender, items: np.ndarray, model_name: str) -> Tensor:
    """``float[n_items]``: scores for a new user whose history is ``items`` (internal ids, oldest first).

    Not thread-safe for ``history_row`` models (their history attribute is swapped for the call);
    the serving handle holds its lock around it.
    """
    items = np.asarray(items, dtype=np.int64)
    own = model.fold_in(torch.as_tensor(items))
    if own is not None:
        return own.float().view(-1)
    if history_row_model(model):
        return _history_row_scores(model, items)
    factors = user_item_factors(model, torch.zeros(1, dtype=torch.long))
    if factors is not None:
        return least_squares_fold_in(factors[1], torch.as_tensor(items))
    raise ConfigError(
        f"model '{model_name}' cannot fold in a new history (no fold_in, users x items history "
        f"or item factors to place a new user against); use recommend() for a known user"
    )
