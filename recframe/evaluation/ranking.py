"""Full ranking over all items, batched over users with bounded memory.

For each batch of users the model scores every item (``[B, n_items]``), items the user has already
seen are masked to ``-inf``, one ``topk`` at the largest cut-off is taken, and the hits matrix
(``bool[B, K]``) feeds every metric at every cut-off. Memory is ``O(batch_users * n_items)``,
never ``O(n_users * n_items)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn

from recframe.evaluation.metrics import TopKMetric


def rows_to_coo(csr: sp.csr_matrix, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(batch_row, column) index pairs of the non-zeros of ``csr[rows]``."""
    sub = csr[rows]
    counts = np.diff(sub.indptr)
    return np.repeat(np.arange(len(rows)), counts), sub.indices


@dataclass
class RankingTarget:
    """What to rank for one split part: the held-out items and the items to mask, per user."""

    relevant: sp.csr_matrix  # n_users x n_items, held-out positives
    seen: sp.csr_matrix | None  # n_users x n_items, masked before ranking (None: mask nothing)
    users: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.relevant = self.relevant.tocsr()
        self.users = np.flatnonzero(np.diff(self.relevant.indptr) > 0)


class RankingEvaluator(nn.Module):
    """Holds ranking metrics and feeds them batches of users.

    ``metrics`` maps keys like ``"ndcg@10"`` to :class:`TopKMetric` instances.
    """

    def __init__(self, metrics: dict[str, TopKMetric], batch_users: int = 1024) -> None:
        super().__init__()
        self.metrics = nn.ModuleDict({k.replace("@", "_at_"): m for k, m in metrics.items()})
        self.keys = list(metrics)
        self.max_k = max(m.k for m in metrics.values())
        self.batch_users = batch_users

    def reset(self) -> None:
        for m in self.metrics.values():
            m.reset()

    @torch.no_grad()
    def update(self, model: nn.Module, users: np.ndarray, target: RankingTarget,
               per_user: dict[str, list[Tensor]] | None = None) -> None:
        """Score ``users`` (``int64[B]``) against every item and update every metric."""
        device = next(iter(model.parameters()), torch.empty(0)).device
        users_t = torch.as_tensor(users, dtype=torch.long, device=device)
        scores = model.score_all(users_t).float()
        hits, n_rel = self.hits(scores, users, target)
        for key, metric in zip(self.keys, self.metrics.values()):
            values = metric.user_values(hits, n_rel)
            metric.update(hits, n_rel, values)
            if per_user is not None:
                per_user.setdefault(key, []).append(values.detach().cpu())

    def hits(self, scores: Tensor, users: np.ndarray, target: RankingTarget) -> tuple[Tensor, Tensor]:
        """``bool[B, K]`` hits at the top ``K = max cut-off`` and ``long[B]`` relevant counts."""
        device = scores.device
        if target.seen is not None:
            r, c = rows_to_coo(target.seen, users)
            scores[torch.as_tensor(r, device=device), torch.as_tensor(c, device=device)] = -torch.inf
        k = min(self.max_k, scores.shape[1])
        top = torch.topk(scores, k, dim=1, sorted=True).indices
        relevant = torch.zeros_like(scores, dtype=torch.bool)
        r, c = rows_to_coo(target.relevant, users)
        relevant[torch.as_tensor(r, device=device), torch.as_tensor(c, device=device)] = True
        hits = relevant.gather(1, top)
        if k < self.max_k:  # fewer items than the cut-off: pad with misses
            hits = torch.nn.functional.pad(hits, (0, self.max_k - k))
        n_rel = torch.as_tensor(np.diff(target.relevant.indptr)[users], device=device)
        return hits, n_rel

    def compute(self) -> dict[str, float]:
        return {key: float(m.compute()) for key, m in zip(self.keys, self.metrics.values())}

    def evaluate(self, model: nn.Module, target: RankingTarget, keep_per_user: bool = False
                 ) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        """Metrics over all users with a held-out item, and optionally the per-user values."""
        self.reset()
        per_user: dict[str, list[Tensor]] | None = {} if keep_per_user else None
        was_training = model.training
        model.eval()
        try:
            for start in range(0, len(target.users), self.batch_users):
                self.update(model, target.users[start:start + self.batch_users], target, per_user)
        finally:
            model.train(was_training)
        values = self.compute()
        per = {k: torch.cat(v).numpy() for k, v in (per_user or {}).items()}
        return values, per
