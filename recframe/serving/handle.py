"""The loaded-model API: ``model = recframe.load(run_dir)``, then ``recommend``, ``recommend_for_history``,
``similar_items`` and ``score``, all in the dataset's original user and item ids.

Rankings are the run's own: the model's scores, the cold-item fallback (``rank_unseen_last``), the
items seen before the test part (train and validation) masked when ``exclude_seen``, and the same
top-K routine as the run's full-ranking evaluation (:func:`top_k_by_factors` for inner-product
models on the CPU with numba, else ``torch.topk`` over float32 scores). So for every test user the
top-K equals the run's ``topk.npz``.

A cold user (known to the id map, with nothing in the history the model scores from) is ranked as
``protocol.cold_fallback`` declares: ``popularity`` (the output's ``source`` column says so) or an
``error``. Bad input (unknown ids, an empty history, ``k`` out of range) is a one-line
:class:`RequestError` naming the argument.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from torch import Tensor

from recframe.errors import DataError
from recframe.serving.artifact import ID_COLUMN, SavedRun, load_saved_run

MODEL_SOURCE = "model"
POPULARITY_SOURCE = "popularity (cold user)"


class RequestError(DataError):
    """A request names an unknown id, an empty history or a ``k`` out of range; ``field`` names the argument."""

    def __init__(self, field: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.field = field
        self.status = status


def _native(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


class IdMap:
    """Original ids <-> internal ids for one side (users or items); lookups by the id's string form,
    so ``"42"`` from a URL and ``42`` from Python find the same user."""

    def __init__(self, ids: np.ndarray, kind: str) -> None:
        self.ids = ids
        self.kind = kind
        self.index = {str(_native(v)): i for i, v in enumerate(ids.tolist())}

    def __len__(self) -> int:
        return len(self.ids)

    def internal(self, values: Iterable[Any], field: str) -> np.ndarray:
        """``int64[n]`` internal ids of ``values``; unknown ones are a :class:`RequestError` naming the first."""
        out = []
        for v in values:
            i = self.index.get(str(_native(v)))
            if i is None:
                raise RequestError(
                    field,
                    f"{field}: unknown {self.kind} id {v!r} (the run knows {len(self)} "
                    f"{self.kind}s, e.g. {_native(self.ids[0])!r})",
                    status=404,
                )
            out.append(i)
        return np.asarray(out, dtype=np.int64)

    def original(self, internal: np.ndarray) -> list[Any]:
        return self.ids[internal].tolist()


def check_k(k: Any, n: int, field: str = "k") -> int:
    """``k`` as an int in ``1..n`` (``n``: the candidate items), else a :class:`RequestError`."""
    try:
        k_int = int(k)
    except (TypeError, ValueError):
        raise RequestError(field, f"{field} must be an integer, got {k!r}") from None
    if k_int != k and not isinstance(k, str) or k_int <= 0:
        raise RequestError(field, f"{field} must be a positive integer, got {k!r}")
    if k_int > n:
        raise RequestError(field, f"{field}={k_int} is larger than the {n} candidate items")
    return k_int


def _as_list(values: Any) -> list[Any]:
    if isinstance(values, (str, bytes)) or np.isscalar(values):
        return [values]
    return list(values)


class LoadedModel:
    """A saved run's model, ready to recommend. Thread-safe: calls into the model hold one lock."""

    def __init__(self, saved: SavedRun, batch_users: int | None = None) -> None:
        from recframe.models import apply_history

        self.saved = saved
        self.model = saved.model
        self.model_name = str(saved.meta["model"])
        self.protocol = dict(saved.config.get("protocol") or {})
        self.users = IdMap(saved.user_ids, "user")
        self.items = IdMap(saved.item_ids, "item")
        self.n_items = len(self.items)
        trainer = saved.config.get("trainer") or {}
        self.batch_users = int(batch_users or trainer.get("eval_batch_users") or 1024)
        history = saved.history
        self.seen = history.to_csr()
        self.seen.data[:] = 1.0
        scored_from = history if getattr(self.model, "uses_history", False) else saved.train
        self.cold = np.bincount(scored_from.user, minlength=len(self.users)) == 0
        self.popularity = torch.as_tensor(saved.item_popularity, dtype=torch.float32)
        self.index: Any = None  # an approximate top-K index (recframe.serving.ann), when attached
        self._lock = threading.RLock()
        self._item_side: Any = None
        apply_history(self.model, history)

    # -- facts -----------------------------------------------------------------------------------------
    @property
    def run_dir(self) -> Path:
        return self.saved.run_dir

    def describe(self) -> dict[str, Any]:
        """What is loaded (for ``GET /model``): model, protocol, metrics, cost, sizes, index."""
        from recframe.serving.foldin import fold_in_kind
        from recframe.serving.stages import list_stages

        results = self.saved.results
        return {
            "run_dir": str(self.run_dir),
            "model": self.model_name,
            "model_class": self.saved.meta["model_class"],
            "recframe_version": self.saved.meta.get("recframe_version"),
            "users": len(self.users),
            "items": self.n_items,
            "cold_users": int(self.cold.sum()),
            "fold_in": fold_in_kind(self.model),
            "protocol": results.get("protocol", self.protocol),
            "metrics": results.get("metrics", {}),
            "cost": results.get("cost", {}),
            "index": self.index.describe() if self.index is not None else {"kind": "exact"},
            "stage": self.saved.stage,
            "stages": list_stages(self.run_dir),
        }

    # -- ranking ---------------------------------------------------------------------------------------
    def _mask_rows(self, scores: Tensor, users: np.ndarray) -> None:
        rows = self.seen[users]
        coo = rows.tocoo()
        flat = torch.as_tensor(coo.row.astype(np.int64) * scores.shape[1] + coo.col.astype(np.int64))
        scores.view(-1).index_fill_(0, flat, -torch.inf)

    def _factor_top(self, users: np.ndarray, k: int, exclude_seen: bool) -> tuple[Tensor, Tensor] | None:
        """The evaluator's inner-product top-K (:mod:`recframe.evaluation.factor_ranking`) where it applies."""
        from recframe import kernels
        from recframe.evaluation.factor_ranking import item_side, top_k_by_factors

        unseen = getattr(self.model, "unseen_items", None)
        if (
            str(self.protocol.get("ties", "torch.topk")) != "torch.topk"
            or not kernels.available()
            or unseen is not None
            and len(unseen)
        ):
            return None
        factors = getattr(self.model, "score_factors", None)
        found = factors(torch.as_tensor(users)) if callable(factors) else None
        if found is None:
            return None
        p, q = found
        if self._item_side is None or self._item_side[0] is not q:
            self._item_side = (q, item_side(q))
        empty = sp.csr_matrix((int(self.seen.shape[0]), self.n_items), dtype=np.float32)
        ranked = top_k_by_factors(p, self._item_side[1], users, self.seen if exclude_seen else None, empty, k)
        if ranked is None:
            return None
        top = ranked[0]
        scores = (p.float().unsqueeze(1) * q.float()[top.clamp_min(0)]).sum(-1)
        return top, scores.masked_fill(top < 0, -torch.inf)

    def _score_rows(self, users: np.ndarray) -> Tensor:
        from recframe.models import rank_unseen_last

        return rank_unseen_last(self.model, self.model.score_all(torch.as_tensor(users)).float())

    @torch.no_grad()
    def top_internal(
        self, users: np.ndarray, k: int, exclude_seen: bool = True, candidates: np.ndarray | None = None
    ) -> tuple[Tensor, Tensor]:
        """``(items: long[B, k], scores: float[B, k])`` for internal ``users`` (one batch); masked
        entries (seen, not a candidate) have score ``-inf``."""
        with self._lock:
            if candidates is None and self.index is not None:
                return self.index.search(self, users, k, exclude_seen)
            if candidates is None:
                found = self._factor_top(users, k, exclude_seen)
                if found is not None:
                    return found
            scores = self._score_rows(users)
        return self._masked_top(scores, users, k, exclude_seen, candidates)

    def _cold_rows(
        self, users: np.ndarray, k: int, exclude_seen: bool, candidates: np.ndarray | None
    ) -> tuple[Tensor, Tensor]:
        policy = str(self.protocol.get("cold_fallback") or "popularity")
        if policy == "error":
            raise RequestError(
                "user",
                f"user {_native(self.users.ids[users[0]])!r} has no interactions the model "
                f"can score from, and the run's protocol.cold_fallback is 'error'",
            )
        scores = self.popularity.unsqueeze(0).repeat(len(users), 1)
        return self._masked_top(scores, users, k, exclude_seen, candidates)

    def _masked_top(
        self, scores: Tensor, users: np.ndarray, k: int, exclude_seen: bool, candidates: np.ndarray | None
    ) -> tuple[Tensor, Tensor]:
        """``(items: long[B, k], scores: float[B, k])`` of ``scores: float[B, n_items]`` (changed in place)
        with the users' seen items and, given ``candidates``, every other item masked out."""
        if exclude_seen:
            self._mask_rows(scores, users)
        if candidates is not None:
            allowed = torch.zeros(self.n_items, dtype=torch.bool)
            allowed[torch.as_tensor(candidates)] = True
            scores.masked_fill_(~allowed, -torch.inf)
        top = torch.topk(scores, k, dim=1, sorted=True)
        return top.indices, top.values

    def _frame(
        self, users: list[Any] | None, top: Tensor, scores: Tensor, source: list[str] | None, metadata: bool
    ) -> pd.DataFrame:
        top_np, scores_np = top.numpy(), scores.numpy()
        keep = np.isfinite(scores_np) & (top_np >= 0)
        rows, cols = np.nonzero(keep)
        frame: dict[str, Any] = {}
        if users is not None:
            frame["user"] = [users[r] for r in rows]
        frame["rank"] = cols + 1
        frame["item"] = self.items.ids[top_np[rows, cols]]
        frame["score"] = scores_np[rows, cols].astype(np.float32)
        if source is not None:
            frame["source"] = [source[r] for r in rows]
        out = pd.DataFrame(frame)
        if metadata and self.saved.items is not None:
            meta = self.saved.items.iloc[top_np[rows, cols]].drop(columns=[ID_COLUMN]).reset_index(drop=True)
            meta = meta.drop(columns=[c for c in meta.columns if c in out.columns])
            out = pd.concat([out.reset_index(drop=True), meta], axis=1)
        return out

    def _candidates(self, items: Any) -> np.ndarray | None:
        if items is None:
            return None
        values = _as_list(items)
        if not values:
            raise RequestError("items", "items: the candidate list is empty (pass None for every item)")
        return np.unique(self.items.internal(values, "items"))

    def recommend_internal(
        self, users: np.ndarray, k: int, exclude_seen: bool = True, candidates: np.ndarray | None = None
    ) -> tuple[Tensor, Tensor, list[str]]:
        """Top-``k`` (items, scores, source per user) for internal ``users``, batch by batch."""
        tops, scores, sources = [], [], []
        for start in range(0, len(users), self.batch_users):
            batch = users[start : start + self.batch_users]
            cold = self.cold[batch]
            top = torch.full((len(batch), k), -1, dtype=torch.long)
            score = torch.full((len(batch), k), -torch.inf)
            if (~cold).any():
                t, s = self.top_internal(batch[~cold], k, exclude_seen, candidates)
                top[torch.as_tensor(~cold)], score[torch.as_tensor(~cold)] = t, s.float()
            if cold.any():
                t, s = self._cold_rows(batch[cold], k, exclude_seen, candidates)
                top[torch.as_tensor(cold)], score[torch.as_tensor(cold)] = t, s
            tops.append(top)
            scores.append(score)
            sources += [POPULARITY_SOURCE if c else MODEL_SOURCE for c in cold]
        return torch.cat(tops), torch.cat(scores), sources

    # -- public API ------------------------------------------------------------------------------------
    def recommend(
        self, users: Any, k: int = 10, exclude_seen: bool = True, items: Any = None, metadata: bool = False
    ) -> pd.DataFrame:
        """Each user's top-``k`` items: a DataFrame ``user, rank, item, score, source`` in original ids.

        ``exclude_seen`` masks what the user interacted with before the run's test part; ``items``
        restricts the candidates (original item ids); ``metadata`` adds the item table's columns
        (titles, genres) where the data had them. ``source`` is ``model``, or the cold fallback.
        """
        user_list = _as_list(users)
        if not user_list:
            raise RequestError("users", "users: the list is empty")
        internal = self.users.internal(user_list, "user")
        candidates = self._candidates(items)
        k = check_k(k, len(candidates) if candidates is not None else self.n_items)
        top, scores, sources = self.recommend_internal(internal, k, exclude_seen, candidates)
        return self._frame([_native(u) for u in self.users.original(internal)], top, scores, sources, metadata)

    def recommend_answer(self, user: Any, k: Any = 10, exclude_seen: bool = True, items: Any = None) -> dict[str, Any]:
        """One user's top-``k`` as plain JSON-ready values (the server's answer): the same lists as
        :meth:`recommend`, without building a DataFrame (about half the time of a small request)."""
        internal = self.users.internal([user], "user")
        candidates = self._candidates(items)
        k = check_k(k, len(candidates) if candidates is not None else self.n_items)
        top, scores, sources = self.recommend_internal(internal, k, exclude_seen, candidates)
        row_items, row_scores = top[0].numpy(), scores[0].numpy()
        keep = np.isfinite(row_scores) & (row_items >= 0)
        ids = self.items.ids[row_items[keep]].tolist()
        values = row_scores[keep].astype(np.float32).tolist()
        ranked = [{"rank": r + 1, "item": i, "score": s} for r, (i, s) in enumerate(zip(ids, values, strict=True))]
        return {"user": _native(self.users.ids[internal[0]]), "k": k, "source": sources[0], "items": ranked}

    def recommend_for_history(
        self, items: Sequence[Any], k: int = 10, exclude_seen: bool = True, metadata: bool = False
    ) -> pd.DataFrame:
        """Top-``k`` for a user the model has never seen, from their items (original ids, oldest first):
        ``rank, item, score``. How each model folds a history in: :mod:`recframe.serving.foldin`."""
        from recframe.serving.foldin import fold_in_scores

        values = _as_list(items)
        if not values:
            raise RequestError("items", "items: the history is empty; give at least one item id")
        history = self.items.internal(values, "items")
        with self._lock:
            scores = fold_in_scores(self.model, history, self.model_name).clone()
        if exclude_seen:
            scores[torch.as_tensor(history)] = -torch.inf
        k = check_k(k, self.n_items - (len(np.unique(history)) if exclude_seen else 0))
        top = torch.topk(scores, k, sorted=True)
        return self._frame(None, top.indices.unsqueeze(0), top.values.unsqueeze(0), None, metadata)

    def similar_items(self, item: Any, k: int = 10, metadata: bool = False) -> pd.DataFrame:
        """The ``k`` items most like ``item``: ``rank, item, score``, the item itself left out.

        Item-item models (EASE, ItemKNN, ...) rank by their weight row ``W[item]``; models with item
        vectors (factor, sequential, content models) by cosine similarity. Others: a one-line error.
        """
        from recframe.serving.vectors import item_factors, item_item_weights, weight_row

        i = int(self.items.internal([item], "item")[0])
        k = check_k(k, self.n_items - 1)
        with self._lock:
            weights = item_item_weights(self.model)
            if weights is not None:
                scores = torch.from_numpy(weight_row(weights, i).copy())
            else:
                q = item_factors(self.model)
                if q is None:
                    raise RequestError(
                        "item",
                        f"model '{self.model_name}' has neither item-item weights nor item "
                        f"vectors, so it cannot find similar items",
                    )
                q = q / q.norm(dim=1, keepdim=True).clamp_min(1e-12)
                scores = q @ q[i]
        scores[i] = -torch.inf
        top = torch.topk(scores, k, sorted=True)
        return self._frame(None, top.indices.unsqueeze(0), top.values.unsqueeze(0), None, metadata)

    @torch.no_grad()
    def score(self, users: Any, items: Any) -> pd.DataFrame:
        """Scores of ``(users[j], items[j])`` pairs (one user or one item is paired with every other
        value): ``user, item, score``, the model's own scores (no masking)."""
        user_list, item_list = _as_list(users), _as_list(items)
        if not user_list or not item_list:
            raise RequestError("users" if not user_list else "items", "users and items must not be empty")
        if len(user_list) == 1:
            user_list = user_list * len(item_list)
        if len(item_list) == 1:
            item_list = item_list * len(user_list)
        if len(user_list) != len(item_list):
            raise RequestError(
                "items",
                f"items: {len(item_list)} ids for {len(user_list)} users; give one item per "
                f"user (or one user, or one item)",
            )
        u = self.users.internal(user_list, "user")
        i = self.items.internal(item_list, "item")
        out = np.empty(len(u), dtype=np.float32)
        with self._lock:
            for start in range(0, len(u), self.batch_users):
                sl = slice(start, start + self.batch_users)
                out[sl] = self.model.score(torch.as_tensor(u[sl]), torch.as_tensor(i[sl])).float().numpy()
        return pd.DataFrame({"user": self.users.original(u), "item": self.items.original(i), "score": out})


def load(run_dir: str | Path, batch_users: int | None = None, stage: int | str | None = None) -> LoadedModel:
    """The model a run saved (``<run_dir>/model/``), ready to recommend; see :class:`LoadedModel`.

    ``stage`` loads a compressed stage's model instead (``model/stages/``): its index, its folder name
    (``"1-quantize"``) or its name when unique (``"quantize"``); ``describe()["stages"]`` lists them.
    """
    saved = load_saved_run(run_dir)
    if stage is not None:
        from recframe.serving.stages import with_stage

        saved = with_stage(saved, stage)
    return LoadedModel(saved, batch_users)
