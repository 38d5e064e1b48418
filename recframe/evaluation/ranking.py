"""Full ranking over all items, batched over users with bounded memory.

For each batch of users the model scores every item (``[B, n_items]``), items the user has already
seen are masked (one ``index_fill_`` of ``-inf`` at flat positions precomputed once per target, see
:mod:`recframe.evaluation.rowindex`), one ``topk`` at the largest cut-off is taken, and the hits
matrix (``bool[B, K]``, one ``searchsorted``) feeds every metric at every cut-off. Memory is
``O(batch_users * n_items)``, never ``O(n_users * n_items)``.

Under ``ties: torch.topk`` equal scores are ordered as ``torch.topk`` returns them (the fast path);
under ``pessimistic``/``optimistic`` the ranking is exact for the rule (integer keys,
:mod:`recframe.evaluation.ties`). :mod:`recframe.evaluation.sampled` ranks fixed or generated
candidates instead of every item and reuses :meth:`RankingEvaluator.feed`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn

from recframe import kernels
from recframe.data.interactions import Interactions
from recframe.errors import ConfigError
from recframe.evaluation.factor_ranking import ItemSide, item_side, top_k_by_factors
from recframe.evaluation.rowindex import FlatRows, rows_to_coo  # noqa: F401 (rows_to_coo: re-exported)
from recframe.evaluation.ties import MASKED, check_ties, tie_keys
from recframe.models import apply_history, rank_unseen_last


@dataclass
class RankingTarget:
    """What to rank for one split part: the held-out items and the items to mask, per user."""

    relevant: sp.csr_matrix  # n_users x n_items, held-out positives
    seen: sp.csr_matrix | None  # n_users x n_items, masked before ranking (None: mask nothing)
    history: Interactions | None = None  # what history-reading models see (Split.history), else None
    users: np.ndarray = field(init=False)
    _flat: dict = field(init=False, default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.relevant = self.relevant.tocsr()
        if self.seen is not None:
            self.seen = self.seen.tocsr()
        self.users = np.flatnonzero(np.diff(self.relevant.indptr) > 0)

    def n_relevant(self, users: np.ndarray) -> Tensor:
        """``long[B]``: held-out items of each of ``users``."""
        return torch.as_tensor(np.diff(self.relevant.indptr)[users])

    def flat(self, users: np.ndarray, which: str = "relevant") -> np.ndarray:
        """``int64[nnz]``, sorted: ``b * n_items + item`` for the ``relevant`` (or ``seen``) items of ``users[b]``.

        Computed once per matrix for all of :attr:`users` (:class:`FlatRows`), then sliced per batch.
        """
        csr = self.relevant if which == "relevant" else self.seen
        rows = self._flat.get(which)
        if rows is None or rows.csr is not csr:  # built on first use; rebuilt if the matrix was replaced
            rows = self._flat[which] = FlatRows(csr, self.users)
        return rows.block(np.asarray(users, dtype=np.int64))


@dataclass
class RankedBatch:
    """One batch of ranked users, as metrics read it.

    ``hits: bool[B, K]`` and ``top_items: long[B, K]`` (``-1`` past the end of a short list) at
    ``K`` = the largest cut-off; ``n_relevant: long[B]``; for score metrics ``scores: float[B, L]``
    with ``relevant``/``valid: bool[B, L]`` over the ranked items (``None`` when not needed).
    """

    hits: Tensor
    n_relevant: Tensor
    top_items: Tensor
    scores: Tensor | None = None
    relevant: Tensor | None = None
    valid: Tensor | None = None


def pad_columns(t: Tensor, width: int, value: int | bool) -> Tensor:
    """Pad ``t: [B, k]`` on the right to ``[B, width]`` with ``value``."""
    if t.shape[1] >= width:
        return t
    return torch.nn.functional.pad(t, (0, width - t.shape[1]), value=value)


class RankingEvaluator(nn.Module):
    """Holds ranking metrics and feeds them batches of users.

    ``metrics`` maps keys like ``"ndcg@10"``, ``"coverage@10"`` or ``"auc"`` to metric instances of
    the ``topk``, ``list`` or ``score`` family. ``ties`` is the protocol's tie rule.
    """

    def __init__(self, metrics: dict[str, nn.Module], batch_users: int = 1024, ties: str = "torch.topk") -> None:
        super().__init__()
        bad = [k for k, m in metrics.items() if getattr(m, "family", "topk") not in ("topk", "list", "score")]
        if bad:
            raise ConfigError(f"metrics {', '.join(bad)} are pointwise and cannot be computed from a ranking")
        self.metrics = nn.ModuleDict({k.replace("@", "_at_"): m for k, m in metrics.items()})
        self.keys = list(metrics)
        self.max_k = max((m.k for m in metrics.values() if hasattr(m, "k")), default=1)
        self.batch_users = int(batch_users)
        self.ties = check_ties(ties)
        self.needs_scores = any(getattr(m, "family", "topk") == "score" for m in metrics.values())
        self._items: tuple[Tensor, ItemSide] | None = None  # this pass's item factors (factor ranking)

    def reset(self) -> None:
        """Start an evaluation pass: zero every metric and forget the item factors of the last one."""
        for m in self.metrics.values():
            m.reset()
        self._items = None

    @staticmethod
    def device_of(model: nn.Module) -> torch.device:
        return next(iter(model.parameters()), next(iter(model.buffers()), torch.empty(0))).device

    @torch.no_grad()
    def update(
        self,
        model: nn.Module,
        users: np.ndarray,
        target: RankingTarget,
        per_user: dict[str, list[Tensor]] | None = None,
        lists: list[Tensor] | None = None,
    ) -> None:
        """Score ``users`` (``int64[B]``) against every item and update every metric.

        Part of a pass begun by :meth:`reset`: an inner-product model's item factors are read once
        per pass, so weights must not change between the batches of one pass.
        """
        apply_history(model, target.history)
        users_t = torch.as_tensor(users, dtype=torch.long, device=self.device_of(model))
        ranked = self.top_by_factors(model, users_t, users, target)
        if ranked is not None:
            self.feed(ranked, per_user, lists)
            return
        scores = rank_unseen_last(model, model.score_all(users_t).float())
        unranked = scores == -torch.inf if getattr(model, "minus_inf_is_unranked", False) else None
        self.feed(self.rank(scores, users, target, unranked), per_user, lists)

    def top_by_factors(
        self, model: nn.Module, users_t: Tensor, users: np.ndarray, target: RankingTarget
    ) -> RankedBatch | None:
        """The ranked batch from :func:`recframe.evaluation.factor_ranking.top_k_by_factors` where it
        applies (numba, the CPU, an inner-product model, ``ties: torch.topk``, no score metric, no
        cold fallback), else ``None``."""
        if (
            self.ties != "torch.topk"
            or self.needs_scores
            or users_t.device.type != "cpu"
            or getattr(model, "unseen_items", None) is not None
            and len(model.unseen_items)
            or not kernels.available()
        ):
            return None
        score_factors = getattr(model, "score_factors", None)
        factors = score_factors(users_t) if score_factors is not None else None
        if factors is None:
            return None
        user_factors, item_factors = factors
        cached = self._items
        if cached is None or cached[0] is not item_factors:  # once per pass for a model's own table
            cached = self._items = (item_factors, item_side(item_factors))
        found = top_k_by_factors(
            user_factors, cached[1], users, target.seen, target.relevant, min(self.max_k, int(target.relevant.shape[1]))
        )
        if found is None:
            return None
        top, hits = found
        return RankedBatch(
            pad_columns(hits, self.max_k, False), target.n_relevant(users), pad_columns(top, self.max_k, -1)
        )

    def feed(
        self, batch: RankedBatch, per_user: dict[str, list[Tensor]] | None = None, lists: list[Tensor] | None = None
    ) -> None:
        """Update every metric from one ranked batch; optionally keep per-user values and top lists."""
        shared: dict = {}
        for key, metric in zip(self.keys, self.metrics.values()):
            family = getattr(metric, "family", "topk")
            if family == "topk":
                values = metric.user_values(batch.hits, batch.n_relevant)
                metric.update(batch.hits, batch.n_relevant, values)
            elif family == "list":
                values = metric.user_values(batch.top_items) if metric.per_user_mean else None
                metric.update(batch.top_items, values)
            else:  # metrics sharing a user_values (AUC, GAUC) compute it once per batch
                fn = type(metric).user_values
                if fn not in shared:
                    shared[fn] = metric.user_values(batch.scores, batch.relevant, batch.valid)
                values = shared[fn]
                metric.update(batch.scores, batch.relevant, batch.valid, values)
            if per_user is not None and values is not None and getattr(metric, "per_user_mean", True):
                per_user.setdefault(key, []).append(values.detach().cpu())
        if lists is not None:
            lists.append(batch.top_items.detach().cpu().int())

    def rank(
        self, scores: Tensor, users: np.ndarray, target: RankingTarget, unranked: Tensor | None = None
    ) -> RankedBatch:
        """Mask seen items in ``scores: float[B, n_items]`` (in place) and take the top ``K``.

        ``unranked: bool[B, n_items]`` (a model with ``minus_inf_is_unranked``): items that are not
        recommended; a top-``K`` position holding one (or a masked item) is left empty (``-1``, no hit).
        """
        device = scores.device
        if not scores.is_contiguous():
            scores = scores.contiguous()
        n_items = scores.shape[1]
        rel_flat = torch.as_tensor(target.flat(users, "relevant"), device=device)  # long[nnz], sorted
        seen_flat = None if target.seen is None else torch.as_tensor(target.flat(users, "seen"), device=device)
        k = min(self.max_k, n_items)
        relevant = None
        if self.ties != "torch.topk" or self.needs_scores:
            relevant = torch.zeros(scores.shape, dtype=torch.bool, device=device)
            relevant.view(-1)[rel_flat] = True
        if self.ties == "torch.topk":
            if seen_flat is not None:
                scores.view(-1).index_fill_(0, seen_flat, -torch.inf)
            top = torch.topk(scores, k, dim=1, sorted=True).indices
        else:
            keys = tie_keys(scores, relevant, "pessimistic" if self.ties == "ncf" else self.ties)
            if seen_flat is not None:
                keys.view(-1).index_fill_(0, seen_flat, MASKED)
            top = torch.topk(keys, k, dim=1, sorted=True).indices
        hits = self.top_hits(top, rel_flat, n_items, relevant)
        if unranked is not None:  # positions past the end of a list: empty
            empty = unranked.gather(1, top)
            if seen_flat is not None:
                masked = torch.zeros_like(unranked)
                masked.view(-1)[seen_flat] = True
                empty |= masked.gather(1, top)
            hits = hits & ~empty
            top = top.masked_fill(empty, -1)
        n_rel = target.n_relevant(users).to(device)
        batch = RankedBatch(pad_columns(hits, self.max_k, False), n_rel, pad_columns(top, self.max_k, -1))
        if self.needs_scores:
            valid = torch.ones_like(relevant)
            if seen_flat is not None:
                valid.view(-1)[seen_flat] = False
            batch.scores, batch.relevant, batch.valid = scores, relevant, valid
        return batch

    @staticmethod
    def top_hits(top: Tensor, rel_flat: Tensor, n_items: int, relevant: Tensor | None) -> Tensor:
        """``bool[B, k]``: is ``top[b, j]`` relevant for user ``b``; no dense matrix unless given.

        ``rel_flat: long[nnz]`` are the sorted flat positions ``b * n_items + item`` of the relevant items.
        """
        if relevant is not None:
            return relevant.gather(1, top)
        if len(rel_flat) == 0:
            return torch.zeros_like(top, dtype=torch.bool)
        top_flat = torch.arange(top.shape[0], device=top.device).unsqueeze(1) * n_items + top
        pos = torch.searchsorted(rel_flat, top_flat).clamp_max(len(rel_flat) - 1)
        return rel_flat[pos] == top_flat

    def compute(self) -> dict[str, float]:
        return {key: float(m.compute()) for key, m in zip(self.keys, self.metrics.values())}

    def evaluate(
        self, model: nn.Module, target, keep_per_user: bool = False, keep_lists: bool = False
    ) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        """Metrics over all users with a held-out item, and optionally the per-user values.

        With ``keep_lists`` the per-user dictionary also holds ``"topk"``: ``int32[n, K]`` item ids.
        """
        self.reset()
        per_user: dict[str, list[Tensor]] | None = {} if keep_per_user else None
        lists: list[Tensor] | None = [] if keep_lists else None
        was_training = model.training
        model.eval()
        from recframe.progress import task

        # a bar for the final evaluations (they keep per-user values); none inside training's validation
        with task(f"evaluating {len(target.users):,} users", len(target.users), show=keep_per_user) as advance:
            try:
                for start in range(0, len(target.users), self.batch_users):
                    self.update(model, target.users[start : start + self.batch_users], target, per_user, lists)
                    advance(len(target.users[start : start + self.batch_users]))
            finally:
                model.train(was_training)
        values = self.compute()
        per = {k: torch.cat(v).numpy() for k, v in (per_user or {}).items()}
        if lists is not None:
            per["topk"] = torch.cat(lists).numpy() if lists else np.zeros((0, self.max_k), dtype=np.int32)
        return values, per
