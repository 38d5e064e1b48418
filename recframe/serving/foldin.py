"""Scores for a user the model has never seen, from a list of items (fold-in).

Native where the model scores from a history: EASE, ItemKNN and any ``x_u @ W`` model, Mult-VAE
(the encoder reads the history row), SASRec and GRU4Rec (the state after the last item), content
kNN (the mean of the items' content vectors), Pop (the same list for everyone). Factor models
(BPR-MF, iALS, GMF, LightGCN) get a least-squares user vector against their item factors, as one
iALS user step: ``p = (Q^T Q + alpha Q_h^T Q_h + reg I)^-1 (1 + alpha) Q_h^T 1`` over the item
factors ``Q`` (LightGCN: the propagated item embeddings its scores use) and the history rows
``Q_h``; iALS uses its own ``alpha`` and ``reg_weight``, the others ``alpha = 10`` and
``reg = 0.01 * trace(Q^T Q) / d``. A model plugin may define ``fold_in(items: long[n]) ->
float[n_items]`` to replace all of this. Anything else is a one-line error.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn

from recframe.errors import ConfigError
from recframe.serving.vectors import user_item_factors

FOLD_IN_ALPHA = 10.0
FOLD_IN_REG = 0.01


def history_row_model(model: nn.Module) -> bool:
    """Does ``score_all`` read the user's row of a sparse ``history`` attribute (EASE, ItemKNN, Mult-VAE)?"""
    history = getattr(model, "history", None)
    return sp.issparse(history) and history.shape == (model.n_users, model.n_items)


def least_squares_user(item_factors: Tensor, items: np.ndarray, alpha: float, reg: float | None) -> Tensor:
    """``float[d]``: the iALS user step for a history ``items`` against ``item_factors: float[n_items, d]``
    (float64 solve)."""
    q = item_factors.detach().double().cpu()
    qh = q[torch.as_tensor(items, dtype=torch.long)]
    gram = q.T @ q
    if reg is None:
        reg = FOLD_IN_REG * float(torch.trace(gram)) / q.shape[1]
    lhs = gram + alpha * (qh.T @ qh) + reg * torch.eye(q.shape[1], dtype=q.dtype)
    return torch.linalg.solve(lhs, (1.0 + alpha) * qh.sum(dim=0))


def fold_in_kind(model: nn.Module) -> str:
    """How :func:`fold_in_scores` treats ``model``: ``plugin``, ``sequence``, ``history_row``,
    ``content_profile``, ``popularity``, ``least_squares`` or ``none``."""
    if callable(getattr(model, "fold_in", None)):
        return "plugin"
    if callable(getattr(model, "encode", None)) and callable(getattr(model, "item_weights", None)) \
            and hasattr(model, "max_len"):
        return "sequence"
    if history_row_model(model):
        return "history_row"
    if all(isinstance(getattr(model, name, None), Tensor) for name in ("profiles", "item_vectors")):
        return "content_profile"
    if isinstance(getattr(model, "popularity", None), Tensor):
        return "popularity"
    if user_item_factors(model, torch.zeros(1, dtype=torch.long)) is not None:
        return "least_squares"
    return "none"


@torch.no_grad()
def fold_in_scores(model: nn.Module, items: np.ndarray, model_name: str) -> Tensor:
    """``float[n_items]``: scores for a new user whose history is ``items`` (internal ids, oldest first).

    Not thread-safe for ``history_row`` models (their history attribute is swapped for the call);
    the serving handle holds its lock around it.
    """
    kind = fold_in_kind(model)
    items = np.asarray(items, dtype=np.int64)
    if kind == "plugin":
        return model.fold_in(torch.as_tensor(items)).float().view(-1)
    if kind == "sequence":
        seq = torch.full((1, int(model.max_len)), -1, dtype=torch.long)
        recent = torch.as_tensor(items[-int(model.max_len):])
        seq[0, seq.shape[1] - len(recent):] = recent
        return (model.encode(seq)[:, -1, :] @ model.item_weights().T).view(-1).float()
    if kind == "history_row":
        saved = model.history
        unique = np.unique(items)
        row = sp.csr_matrix((np.ones(len(unique), dtype=saved.dtype), (np.zeros(len(unique), dtype=np.int64),
                                                                        unique)), shape=(1, model.n_items))
        try:
            model.history = row
            return model.score_all(torch.zeros(1, dtype=torch.long)).view(-1).float()
        finally:
            model.history = saved
    if kind == "content_profile":
        mean = model.item_vectors[torch.as_tensor(np.unique(items))].mean(dim=0)
        profile = mean / mean.norm().clamp_min(1e-12)
        return (model.item_vectors @ profile).float()
    if kind == "popularity":
        return model.popularity.float().clone()
    if kind == "least_squares":
        q = user_item_factors(model, torch.zeros(1, dtype=torch.long))[1]
        alpha = float(getattr(model, "alpha", FOLD_IN_ALPHA)) if hasattr(model, "cg_steps") else FOLD_IN_ALPHA
        reg = float(model.reg) if hasattr(model, "cg_steps") else None
        p = least_squares_user(q, items, alpha, reg)
        return (q.double() @ p).float()
    raise ConfigError(f"model '{model_name}' cannot fold in a new history (no history input, item-item weights "
                      f"or item factors to place a new user against); use recommend() for a known user")
