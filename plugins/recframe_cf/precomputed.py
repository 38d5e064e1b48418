"""Precomputed recommendations as a model: lists or a score matrix made elsewhere, scored by recframe.

No paper: this is Elliot's "proxy recommender" idea (V. W. Anelli et al., *Elliot: a Comprehensive and
Rigorous Framework for Reproducible Recommender Systems Evaluation*, SIGIR 2021): results of another
tool enter recframe's protocol, metrics, sweeps and ``recframe compare`` as a run of this model.

* ``recs: lists.csv``: columns ``user,item[,rank|score]`` in the data's raw ids (rules in
  :mod:`recframe.evaluation.recs`, through ``recframe.api.read_recs``). A listed item scores its level
  in the user's list (first = highest, equal ranks or scores tie); every other item scores ``-inf``.
  The ranking is exactly the lists' once the protocol's masked items are out; positions past the end
  of a shorter list are empty (``minus_inf_is_unranked``: never a hit, under every tie rule).
  ``recframe evaluate`` prints how many lists are short.
* ``scores: scores.npz``: arrays ``users`` (raw ids, ``[U]``), ``items`` (raw ids, ``[I]``) and
  ``scores`` (``float32[U, I]``), read with ``allow_pickle=False``; users or items of the data absent
  from the file score ``-inf``.

``unknown``: ids the data does not know are an error (default) or dropped (``drop``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from torch import Tensor

from recframe.api import ClosedFormRecommender, ConfigError, DataError, DatasetInfo, Interactions, read_recs


def read_score_matrix(path: Path, user_ids: np.ndarray, item_ids: np.ndarray, unknown: str) -> sp.csr_matrix:
    """A dense ``scores.npz`` as a CSR over the data's dense ids (stored values shifted to stay non-zero)."""
    if not path.is_file():
        raise DataError(f"model.scores: {path} not found; give an npz with arrays users, items, scores")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in ("users", "items", "scores") if k in npz.files}
    except ValueError as exc:
        raise DataError(f"{path}: not a plain npz ({exc}); arrays must be numbers or text, not objects") from None
    for key in ("users", "items", "scores"):
        if key not in arrays:
            raise DataError(f"{path}: no array {key!r} (arrays: users, items, scores)")
    users, items, scores = arrays["users"], arrays["items"], arrays["scores"].astype(np.float32)
    if scores.shape != (len(users), len(items)):
        raise DataError(
            f"{path}: scores has shape {scores.shape}, expected (len(users), len(items)) = {(len(users), len(items))}"
        )
    if not np.isfinite(scores).all():
        raise DataError(f"{path}: scores holds NaN or infinite values")
    rows = index_of(user_ids, users, path, "user", unknown)
    cols = index_of(item_ids, items, path, "item", unknown)
    keep_r, keep_c = rows >= 0, cols >= 0
    block = scores[np.ix_(keep_r, keep_c)]
    shifted = block - block.min(initial=0.0) + 1.0  # > 0: an explicit entry, never confused with "unlisted"
    dense_rows, dense_cols = np.meshgrid(rows[keep_r], cols[keep_c], indexing="ij")
    return sp.csr_matrix(
        (shifted.ravel(), (dense_rows.ravel(), dense_cols.ravel())), shape=(len(user_ids), len(item_ids))
    )


def index_of(raw_ids: np.ndarray, values: np.ndarray, path: Path, what: str, unknown: str) -> np.ndarray:
    """Dense id of each raw id in ``values`` (``-1`` when unknown and ``unknown == "drop"``)."""
    if raw_ids.dtype.kind in "iu" and values.dtype.kind in "iu":
        found = pd.Index(raw_ids).get_indexer(values.astype(np.int64)).astype(np.int64)
    else:
        found = pd.Index(raw_ids.astype(str)).get_indexer(values.astype(str)).astype(np.int64)
    if (found < 0).any() and unknown != "drop":
        bad = values[np.flatnonzero(found < 0)[0]]
        raise DataError(f"{path}: {what} {bad!r} in {what}s is not in the data; fix it or set model.unknown=drop")
    return found


class Precomputed(ClosedFormRecommender):
    """Scores from a lists file (``recs``) or a score matrix (``scores``); nothing is learned."""

    scores_unseen_items = True  # an item absent from training still has its listed score
    minus_inf_is_unranked = True  # unlisted items are not recommended: positions past a list's end are empty

    def __init__(self, info: DatasetInfo, recs: str | None = None, scores: str | None = None, unknown: str = "error"):
        super().__init__(info)
        if (recs is None) == (scores is None):
            raise ConfigError(
                "model=precomputed needs model.recs=<lists.csv> or model.scores=<scores.npz> (one of them)"
            )
        if unknown not in ("error", "drop"):
            raise ConfigError(f"model.unknown must be error or drop, got {unknown!r}")
        self.recs, self.scores, self.unknown = recs, scores, unknown
        self.source = str(recs if recs is not None else scores)
        # read in fit, so a saved model loads (recframe.load) without the file: the matrix is saved state
        self.listed = sp.csr_matrix((self.n_users, self.n_items), dtype=np.float32)
        self.register_buffer("anchor", torch.zeros(0))  # gives the model a device; nothing is stored in it

    def fit(self, train: Interactions) -> None:
        """Read the lists (or scores) against the run's raw ids; nothing is learned."""
        assert train.user_ids is not None and train.item_ids is not None  # set by Interactions.__post_init__
        if self.recs is not None:
            lists = read_recs(self.recs, train.user_ids, train.item_ids, unknown=self.unknown)
            self.listed = lists.matrix(self.n_users, self.n_items)
        else:
            path = Path(str(self.scores)).expanduser()
            self.listed = read_score_matrix(path, train.user_ids, train.item_ids, self.unknown)
        self.listed.sort_indices()

    def storage(self) -> tuple[int, int]:
        """The listed entries: one item id and one float32 level each."""
        return int(self.listed.nnz), int(self.listed.nnz) * 8

    def score_all(self, users: Tensor) -> Tensor:
        """``long[B] -> float[B, n_items]``: listed items their level, every other item ``-inf``."""
        rows = self.listed[users.cpu().numpy()]
        out = np.full(rows.shape, -np.inf, dtype=np.float32)
        r, c = rows.nonzero()
        out[r, c] = np.asarray(rows[r, c]).ravel()
        return torch.from_numpy(out).to(users.device)
