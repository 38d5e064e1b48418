"""Matrix factorisation for implicit feedback, trained with BPR.

S. Rendle, C. Freudenthaler, Z. Gantner, L. Schmidt-Thieme. "BPR: Bayesian Personalized Ranking
from Implicit Feedback." UAI 2009.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from recframe.api import DatasetInfo, Recommender
from recframe.api import dot_scores


class BPRMF(Recommender):
    """Score ``s(u, i) = <p_u, q_i>`` with user and item embeddings of size ``embedding_dim``."""

    batch_kind = "pairwise"
    dot_product_tables = ("user_embedding", "item_embedding")  # trainer.optimizer=sgd_compiled trains them

    def __init__(self, info: DatasetInfo, embedding_dim: int = 64) -> None:
        super().__init__(info)
        if int(embedding_dim) < 1:
            raise ValueError(f"embedding_dim must be >= 1, got {embedding_dim}")
        self.user_embedding = nn.Embedding(self.n_users, int(embedding_dim))
        self.item_embedding = nn.Embedding(self.n_items, int(embedding_dim))
        nn.init.xavier_normal_(self.user_embedding.weight)
        nn.init.xavier_normal_(self.item_embedding.weight)

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        """``long[B], long[B] -> float[B]``."""
        return (self.user_embedding(users) * self.item_embedding(items)).sum(dim=-1)

    def score_all(self, users: Tensor) -> Tensor:
        """``long[B] -> float[B, n_items]``."""
        return self.user_embedding(users) @ self.item_embedding.weight.T

    def score_factors(self, users: Tensor) -> tuple[Tensor, Tensor]:
        """``(P[B, d], Q[n_items, d])`` with ``score_all(users) = P @ Q.T``."""
        return self.user_embedding(users), self.item_embedding.weight

    def score_many(self, users: Tensor, items: Tensor) -> Tensor:
        """``long[B], long[B, n] -> float[B, n]``: each user row gathered once, and on the CPU a
        backward that writes the gradient rows straight into one dense gradient per table
        (:func:`recframe.training.dot_scores.dot_scores`)."""
        return dot_scores(self.user_embedding, self.item_embedding, users, items)

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """Pairwise batches with one lookup per table: ``pos_score: [B]``, ``neg_score: [B, n]``.

        The same scores as the base class's two ``score`` calls, but the positive and negative
        items go through one :meth:`score_many` (``[B, 1 + n]``). Pointwise batches go to the base class.
        """
        if "pos_item" not in batch:
            return super().forward(batch)
        neg = batch["neg_item"]
        items = torch.cat([batch["pos_item"].view(-1, 1), neg.view(len(neg), -1)], dim=1)  # long[B, 1 + n]
        scores = self.score_many(batch["user"], items)  # [B, 1 + n]
        return {"pos_score": scores[:, 0], "neg_score": scores[:, 1:]}

    def training_flops(self, batch: dict[str, Tensor], all_scores: bool) -> int | None:
        """FLOPs of one step on a pairwise batch: ``B (1 + n)`` dot products of length ``d`` (``2d``
        each) forward, and two products of the same size backward (the user and item gradients).
        Counted by hand because ``dot_scores`` runs a compiled kernel torch's FLOP counter cannot see;
        pointwise batches (the base class's path) are left to the counter. A slice of the compiled
        epoch (``trainer.optimizer=sgd_compiled``) has no ``neg_item``: its kernel draws one negative a pair."""
        if "pos_item" not in batch:
            return None
        b = len(batch["user"])
        n = batch["neg_item"].view(b, -1).shape[1] if "neg_item" in batch else 1
        return 3 * 2 * b * (1 + n) * self.item_embedding.embedding_dim
