"""What every next-item model shares: item embeddings with a padding row, the evaluation history,
and the outputs of a sequence batch.

A subclass implements only :meth:`SequentialRecommender.encode`: ``long[B, L]`` item ids (``-1``
left padding) to ``float[B, L, d]`` states, where the state at position ``t`` may read positions
``<= t`` only. Scores are dot products of a state with the (shared) item embeddings:

* training (``forward``): the state at each target position against the next item and its
  negatives, for ``sequence_bce``; or against every item (``training_all_scores``) for
  ``sequence_ce``;
* evaluation (``score_all``/``score``): the state after the user's latest history item against
  every item. The history is what the evaluator passes to ``set_history`` (train for validation,
  train and the validation item for test), cut to the latest ``max_len`` items.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn

from recframe.api import Interactions
from recframe.api import PAD, last_items
from recframe.api import TrainingError
from recframe.api import DatasetInfo, Recommender


def positive_int(name: str, value: int) -> int:
    """``int(value)`` if it is >= 1, else a ``ValueError`` naming ``model.<name>``."""
    if int(value) != value or int(value) < 1:
        raise ValueError(f"model.{name} must be a positive integer, got {value!r}")
    return int(value)


def probability(name: str, value: float) -> float:
    """``float(value)`` if it is in [0, 1), else a ``ValueError`` naming ``model.<name>``."""
    if not 0.0 <= float(value) < 1.0:
        raise ValueError(f"model.{name} must be in [0, 1), got {value!r}")
    return float(value)


def dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """Inverted dropout, as ``F.dropout``, with the mask drawn by ``rand_like`` (about twice as fast
    on CPU as ``F.dropout``'s Bernoulli draw, which dominated SASRec's step time on [B, H, L, L]
    attention weights)."""
    if not training or p == 0.0:
        return x
    return x * (torch.rand_like(x) >= p).to(x.dtype) * (1.0 / (1.0 - p))


class SequentialRecommender(Recommender):
    """Base of next-item models: ``embedding_dim`` (``d``) item embeddings and ``max_len`` history.

    ``item_embedding`` has ``n_items + 1`` rows; the last (index ``n_items``) is the padding item,
    kept at zero and never scored.
    """

    batch_kind: ClassVar[str] = "sequence"
    uses_history: ClassVar[bool] = True
    #: set per instance by ``__init__`` (a positive int; ``Recommender``'s default is None)
    max_len: int

    def __init__(self, info: DatasetInfo, embedding_dim: int, max_len: int) -> None:
        super().__init__(info)
        self.embedding_dim = positive_int("embedding_dim", embedding_dim)
        self.max_len = positive_int("max_len", max_len)
        self.item_embedding = nn.Embedding(self.n_items + 1, self.embedding_dim, padding_idx=self.n_items)
        # long[n_users, max_len]: each user's latest history items, -1 padded (rebuilt from data, not saved)
        self.register_buffer("history", torch.full((0, self.max_len), PAD, dtype=torch.long), persistent=False)
        self._history_source: Interactions | None = None

    # -- to implement -------------------------------------------------------------------------------
    def encode(self, seq: Tensor) -> Tensor:
        """States of a batch of sequences: ``long[B, L]`` (``-1`` padding) -> ``float[B, L, d]``."""
        raise NotImplementedError

    # -- shared --------------------------------------------------------------------------------------
    def embedding_index(self, seq: Tensor) -> Tensor:
        """``long[...]`` item ids with ``-1`` padding mapped to the padding row (``n_items``)."""
        return seq.masked_fill(seq < 0, self.n_items)

    def item_weights(self) -> Tensor:
        """``float[n_items, d]``: the embeddings of the real items (the padding row left out)."""
        return self.item_embedding.weight[: self.n_items]

    def set_history(self, history: Interactions) -> None:
        """Keep each user's latest ``max_len`` items of ``history`` (time order) for scoring.

        Rebuilt only when a different table is passed (validation runs every epoch on the same one).
        """
        if history is self._history_source:
            return
        self.history = torch.from_numpy(last_items(history, self.max_len)).to(self.history.device)
        self._history_source = history

    def user_state(self, users: Tensor) -> Tensor:
        """``long[B] -> float[B, d]``: the state after each user's latest history item."""
        if self._history_source is None:
            raise TrainingError(
                f"{type(self).__name__} scores from the user's history, but set_history() was "
                f"not called; evaluate it through recframe's evaluators"
            )
        return self.encode(self.history[users])[:, -1, :]

    def fold_in(self, items: Tensor) -> Tensor:
        """``long[n] -> float[n_items]``: the state after the last of a new user's ``items`` (oldest first;
        the latest ``max_len``, left-padded) against every item embedding, as a known user is scored."""
        seq = torch.full((1, self.max_len), PAD, dtype=torch.long, device=self.item_embedding.weight.device)
        recent = items[-self.max_len :].to(seq.device)
        seq[0, self.max_len - len(recent) :] = recent
        return (self.encode(seq)[:, -1, :] @ self.item_weights().T).view(-1)

    def serving_factors(self, users: Tensor) -> tuple[Tensor, Tensor]:
        """``(state: float[B, d], item weights: float[n_items, d])``: ``score_all`` is their product."""
        return self.user_state(users), self.item_weights()

    def score_all(self, users: Tensor) -> Tensor:
        """``long[B] -> float[B, n_items]``: the user's state against every item embedding."""
        return self.user_state(users) @ self.item_weights().T

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        """``long[B], long[B] -> float[B]``: the same dot products for explicit pairs."""
        return (self.user_state(users) * self.item_embedding(items)).sum(-1)

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """Outputs of a sequence batch at its ``N`` target positions (where ``pos_item >= 0``).

        ``seq, pos_item: long[B, L]``, ``neg_item: long[B, L, n]`` ->
        ``pos_score: float[N]``, ``neg_score: float[N, n]``, ``hidden: float[N, d]`` (the states) and
        ``target_item: long[N]``.
        """
        hidden = self.encode(batch["seq"])
        mask = batch["pos_item"] >= 0
        states, target = hidden[mask], batch["pos_item"][mask]
        neg = self.item_embedding(batch["neg_item"][mask])  # [N, n, d]
        return {
            "pos_score": (states * self.item_embedding(target)).sum(-1),
            "neg_score": torch.einsum("nd,nkd->nk", states, neg),
            "hidden": states,
            "target_item": target,
        }

    def training_all_scores(self, outputs: dict[str, Tensor], batch: dict[str, Tensor]) -> Tensor:
        """``float[N, n_items]``: every target position's state against every item (``sequence_ce``)."""
        return outputs["hidden"] @ self.item_weights().T
