"""Sampled ranking: each held-out item is ranked against a fixed set of candidate items.

The candidates come from the data (``Split.candidates``, e.g. NCF's 99 test negatives) or are
generated: ``num_candidates`` items per user, drawn uniformly without replacement from the items the
user never interacted with (in any part), seeded from the run seed, and saved with the run
(``candidates.npz``). A user's list is its held-out items plus its candidates; the scores come from
``model.score(users, items)`` and ties follow ``protocol.ties``. Metrics are then computed exactly as
in full ranking (:meth:`RankingEvaluator.feed`). See ``docs/metrics.md`` for why sampled and full
ranking numbers are not comparable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn

from recframe.atomic import atomic_path
from recframe.data.candidates import build_candidates
from recframe.data.interactions import Interactions
from recframe.data.split import Split
from recframe.errors import ConfigError
from recframe.models import Recommender, apply_history, rank_unseen_last
from recframe.evaluation.ranking import RankedBatch, RankingEvaluator, pad_columns, rows_to_coo
from recframe.evaluation.ties import MASKED, dedup_mask, ordered_int, tie_keys


@dataclass
class SampledTarget:
    """Held-out items (``relevant``, ``n_users x n_items``) and ``candidates: int64[n_users, C]``."""

    relevant: sp.csr_matrix
    candidates: np.ndarray
    history: Interactions | None = None  # what history-reading models see (Split.history)
    users: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.relevant = self.relevant.tocsr()
        self.candidates = np.asarray(self.candidates, dtype=np.int64)
        if self.candidates.ndim != 2 or self.candidates.shape[0] != self.relevant.shape[0]:
            raise ConfigError(
                f"candidates must be an array of shape (n_users={self.relevant.shape[0]}, C), "
                f"got {self.candidates.shape}"
            )
        self.users = np.flatnonzero(np.diff(self.relevant.indptr) > 0)


def padded_rows(csr: sp.csr_matrix, rows: np.ndarray) -> np.ndarray:
    """``int64[len(rows), max_len]``: the column ids of each row of ``csr[rows]``, ``-1`` padded."""
    r, c = rows_to_coo(csr, rows)
    counts = np.bincount(r, minlength=len(rows))
    out = np.full((len(rows), max(int(counts.max(initial=0)), 1)), -1, dtype=np.int64)
    pos = np.arange(len(r)) - np.repeat(np.cumsum(counts) - counts, counts)
    out[r, pos] = c
    return out


class SampledRankingEvaluator(RankingEvaluator):
    """Ranks each user's held-out items among its candidates (same metrics and state as full ranking)."""

    @torch.no_grad()
    def update(
        self,
        model: nn.Module,
        users: np.ndarray,
        target: SampledTarget,  # type: ignore[override]
        per_user: dict[str, list[Tensor]] | None = None,
        lists: list[Tensor] | None = None,
    ) -> None:
        apply_history(model, target.history)
        device = self.device_of(model)
        pos = padded_rows(target.relevant, users)
        ids = torch.as_tensor(np.concatenate([pos, target.candidates[users]], axis=1), device=device)
        is_rel = torch.zeros_like(ids, dtype=torch.bool)
        is_rel[:, : pos.shape[1]] = torch.as_tensor(pos >= 0, device=device)
        users_t = torch.as_tensor(users, dtype=torch.long, device=device)
        if type(model).score is Recommender.score:  # no pair scorer of its own: one score_all row per user
            scores = model.score_all(users_t).float().gather(1, ids.clamp_min(0))
        else:
            scores = model.score_many(users_t, ids.clamp_min(0)).float()
        scores = rank_unseen_last(model, scores, ids)
        self.feed(self.rank_candidates(scores, ids, is_rel), per_user, lists)

    def rank_candidates(self, scores: Tensor, ids: Tensor, is_rel: Tensor) -> RankedBatch:
        """Rank ``ids: long[B, L]`` (held-out items first, ``-1`` pads) by ``scores: float[B, L]``."""
        valid = ids >= 0
        if self.ties == "ncf":
            valid &= ~dedup_mask(ids)
        if self.ties == "torch.topk":  # no rule: equal scores in the order torch.topk returns them
            keys = ordered_int(scores) * 2
        else:
            keys = tie_keys(scores, is_rel, "optimistic" if self.ties == "optimistic" else "pessimistic")
        keys[~valid] = MASKED
        k = min(self.max_k, ids.shape[1])
        top = torch.topk(keys, k, dim=1, sorted=True).indices
        in_list = valid.gather(1, top)
        hits = is_rel.gather(1, top) & in_list
        top_items = torch.where(in_list, ids.gather(1, top), -1)
        batch = RankedBatch(
            pad_columns(hits, self.max_k, False), (is_rel & valid).sum(dim=1), pad_columns(top_items, self.max_k, -1)
        )
        if self.needs_scores:
            batch.scores, batch.relevant, batch.valid = scores, is_rel, valid
        return batch


def sampled_evaluation(
    protocol: dict[str, Any],
    split: Split,
    metrics: dict[str, nn.Module],
    batch_users: int,
    seed: int,
    run_dir: Path | None = None,
) -> tuple[SampledRankingEvaluator, dict[str, SampledTarget]]:
    """The evaluator and the valid/test targets of a ``ranking: sampled`` protocol.

    Fixed candidates (``split.candidates``) win; otherwise ``protocol.num_candidates`` are generated
    with ``seed``. The candidates used are written to ``run_dir/candidates.npz`` (``candidates``,
    ``int64[n_users, C]``; ``generated``: 0 or 1; ``seed``).
    """
    num = protocol.get("num_candidates")
    if split.candidates is not None:
        candidates, generated = np.asarray(split.candidates, dtype=np.int64), False
        if num is not None and int(num) != candidates.shape[1]:
            raise ConfigError(
                f"protocol.num_candidates is {num} but the dataset fixes {candidates.shape[1]} "
                f"candidates per user; set protocol.num_candidates={candidates.shape[1]} or null"
            )
    elif num is None:
        raise ConfigError(
            "protocol.ranking is 'sampled' but the dataset has no fixed candidates and "
            "protocol.num_candidates is null; set protocol.num_candidates=100 or use ranking=full"
        )
    else:
        parts = (split.train, split.valid, split.test)
        everything = Interactions(
            user=np.concatenate([p.user for p in parts]),
            item=np.concatenate([p.item for p in parts]),
            n_users=split.n_users,
            n_items=split.n_items,
        )
        candidates, generated = build_candidates(everything, int(num), seed), True
    from recframe.value_checks import check_sampled_cutoffs

    check_sampled_cutoffs(
        candidates.shape[1],
        protocol.get("cutoffs") or [1],
        "the number of candidates per user" if num is None else "protocol.num_candidates",
    )
    evaluator = SampledRankingEvaluator(metrics, batch_users=batch_users, ties=str(protocol.get("ties", "pessimistic")))
    targets = {
        part: SampledTarget(split.part(part).to_csr(), candidates, split.history(part)) for part in ("valid", "test")
    }
    if run_dir is not None:
        with atomic_path(Path(run_dir) / "candidates.npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, candidates=candidates, generated=np.int8(generated), seed=np.int64(seed))
    return evaluator, targets
