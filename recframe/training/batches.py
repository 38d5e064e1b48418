"""Training batches built straight from arrays, one epoch at a time.

Each epoch shuffles the training pairs with a generator derived from the run seed and the epoch
number (so a resumed run sees the same batches), samples negatives in bulk, and yields dictionaries
of tensors. A ``torch.utils.data.IterableDataset`` wraps this so Lightning can drive it with
``batch_size=None``.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np
import torch
from torch.utils.data import IterableDataset

from recframe.data.interactions import Interactions
from recframe.training.options import POSITIVE_SAMPLING
from recframe.training.sampling import NegativeSampler


def first_of(batch: dict[str, torch.Tensor] | list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """A copy of ``batch`` (the first one of a list of grouped batches): the yielded tensors are views
    of the whole epoch's drawn arrays, which a kept view would hold in memory."""
    one = batch[0] if isinstance(batch, list) else batch
    return {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in one.items()}


def first_training_batch(batches: Any) -> dict[str, torch.Tensor]:
    """Epoch 0's first batch of a training stream: :meth:`EpochBatches.first_batch` (kept from the fit
    when it ran epoch 0), else, for another stream with ``set_epoch``, drawn again."""
    if isinstance(batches, EpochBatches):
        return batches.first_batch()
    batches.set_epoch(0)
    return first_of(next(iter(batches)))


class EpochBatches(IterableDataset):
    """Training batches drawn anew every epoch from a generator seeded by ``(seed, epoch)``.

    Subclasses report ``n_rows`` (what an epoch walks through); ``len`` is the number of batches.
    ``set_epoch`` (called by the training module at each epoch start) and :meth:`epoch_rng` make a
    resumed run draw exactly the batches it would have.
    """

    def __init__(self, batch_size: int, seed: int) -> None:
        super().__init__()
        self.batch_size, self.seed, self.epoch = int(batch_size), int(seed), 0
        self.kept_first: dict[str, torch.Tensor] | None = None  # epoch 0's first batch, once drawn

    def draw_epoch(self) -> Iterator[dict[str, torch.Tensor]]:
        """This epoch's batches (subclasses); starts by calling :meth:`epoch_rng`."""
        raise NotImplementedError

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        """:meth:`draw_epoch`, keeping a copy of epoch 0's first batch for :meth:`first_batch`."""
        epoch = self.epoch
        for index, batch in enumerate(self.draw_epoch()):
            if index == 0 and epoch == 0 and self.kept_first is None:
                self.kept_first = first_of(batch)
            yield batch

    def first_batch(self) -> dict[str, torch.Tensor]:
        """The first batch of epoch 0: the copy kept when epoch 0 was iterated (by the fit), else drawn
        now, which costs one epoch's shuffle and negatives. Leaves the epoch counter as it was.

        Why: the FLOP count and the scaling budget measure one training step on this batch after or
        before the fit; drawing it again costs an epoch's sampling (34 s at ML-20M size)."""
        if self.kept_first is None:
            epoch = self.epoch
            self.set_epoch(0)
            first = next(iter(self), None)
            self.epoch = epoch
            if first is None:
                raise ValueError("the training stream yields no batch: it has no training rows")
            if self.kept_first is None:  # a subclass iterating on its own (not through draw_epoch)
                self.kept_first = first_of(first)
        return self.kept_first

    @property
    def n_rows(self) -> int:
        raise NotImplementedError

    def __len__(self) -> int:
        return -(-self.n_rows // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def epoch_rng(self) -> np.random.Generator:
        """This epoch's generator; advances to the next epoch."""
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.epoch]))
        self.epoch += 1
        return rng

    def batch_slices(self, n: int) -> Iterator[slice]:
        """Consecutive slices of ``batch_size`` over ``n`` drawn rows (the last one may be shorter)."""
        for start in range(0, n, self.batch_size):
            yield slice(start, start + self.batch_size)


class InteractionBatches(EpochBatches):
    """Pairwise or pointwise batches over the training interactions.

    ``pairwise`` yields ``user: long[B]``, ``pos_item: long[B]``, ``neg_item: long[B, n]``.
    ``pointwise`` yields ``user``, ``item`` (``long[B * (1 + n)]``) and ``label`` (``float``), each
    positive followed by its ``n`` negatives.

    ``positives`` says how an epoch's ``len(train)`` positive pairs are drawn: ``"interactions"``
    walks every training pair once in a shuffled order (RecBole); ``"users"`` draws a user uniformly
    among those with training items, then one of their items uniformly, with replacement (the
    sampler of NGCF and LightGCN's reference code), so light users weigh as much as heavy ones.
    """

    def __init__(
        self,
        train: Interactions,
        kind: str,
        batch_size: int,
        num_negatives: int,
        sampler: NegativeSampler,
        seed: int,
        positives: str = "interactions",
    ) -> None:
        super().__init__(batch_size, seed)
        if kind not in {"pairwise", "pointwise"}:
            raise ValueError(f"InteractionBatches builds pairwise or pointwise batches, not '{kind}'")
        if positives not in POSITIVE_SAMPLING:
            raise ValueError(f"positives are drawn per {' or '.join(map(repr, POSITIVE_SAMPLING))}, not {positives!r}")
        self.train, self.kind, self.positives = train, kind, positives
        self.num_negatives, self.sampler = int(num_negatives), sampler
        if positives == "users":
            order = np.argsort(train.user, kind="stable")
            self.items_by_user = np.asarray(train.item)[order]
            degree = np.bincount(train.user, minlength=train.n_users)
            self.row_start = np.concatenate(([0], np.cumsum(degree)[:-1]))
            self.active_users = np.flatnonzero(degree)
            self.degree = degree

    @property
    def n_rows(self) -> int:
        return len(self.train)

    def draw_positives(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """This epoch's ``(users, items)``, ``int64[len(train)]`` each, as ``positives`` says."""
        if self.positives == "interactions":
            order = rng.permutation(len(self.train))
            return self.train.user[order], self.train.item[order]
        users = self.active_users[rng.integers(0, len(self.active_users), size=len(self.train))]
        offsets = (rng.random(len(users)) * self.degree[users]).astype(np.int64)
        return users, self.items_by_user[self.row_start[users] + offsets]

    def draw_epoch(self) -> Iterator[dict[str, torch.Tensor]]:
        rng = self.epoch_rng()
        users_all, items_all = self.draw_positives(rng)
        negs_all = self.sampler.sample(users_all, self.num_negatives, rng)
        for sl in self.batch_slices(len(users_all)):
            users, pos, neg = users_all[sl], items_all[sl], negs_all[sl]
            if self.kind == "pairwise":
                yield {
                    "user": torch.from_numpy(users),
                    "pos_item": torch.from_numpy(pos),
                    "neg_item": torch.from_numpy(neg),
                }
            else:
                n = self.num_negatives
                u = np.repeat(users, 1 + n)
                items = np.concatenate([pos[:, None], neg], axis=1).reshape(-1)
                label = np.tile(np.r_[1.0, np.zeros(n)], len(users)).astype(np.float32)
                yield {"user": torch.from_numpy(u), "item": torch.from_numpy(items), "label": torch.from_numpy(label)}


class UserBatches(IterableDataset):
    """Batches of user ids (``long[B]``) for evaluation."""

    def __init__(self, users: np.ndarray, batch_size: int) -> None:
        super().__init__()
        self.users, self.batch_size = np.asarray(users, dtype=np.int64), int(batch_size)

    def __len__(self) -> int:
        return -(-len(self.users) // self.batch_size)

    def __iter__(self) -> Iterator[torch.Tensor]:
        for start in range(0, len(self.users), self.batch_size):
            yield torch.from_numpy(self.users[start : start + self.batch_size])


class UserRowBatches(EpochBatches):
    """Listwise batches: ``user: long[B]``, ``row: float[B, n_items]`` (the user's training items) and
    ``row_nonzero: long[2, nnz]``, the (batch row, item) positions of ``row``'s non-zero entries in
    row-major order, so models and losses can work on the few percent of entries that are set
    without scanning the dense rows.

    ``per="users"``: each epoch is one pass over the users with training items, ``batch_size`` users
    a batch. ``per="interactions"``: each epoch is one pass over the shuffled training interactions,
    and a batch holds the rows of the users of ``batch_size`` interactions, duplicates included, so
    an active user is seen once per interaction: many more, activity-weighted updates per epoch.
    (RecBole 1.2.1's autoencoders train on batches of users, the first mode: its ``UserDataLoader``.)
    """

    def __init__(self, train: Interactions, batch_size: int, seed: int, per: str = "users") -> None:
        super().__init__(batch_size, seed)
        if per not in ("users", "interactions"):
            raise ValueError(f"listwise batches are drawn per 'users' or per 'interactions', not {per!r}")
        self.matrix = train.to_csr().astype(np.float32)  # float32 rows straight from toarray
        self.matrix.data[:] = 1.0
        self.users = np.flatnonzero(np.diff(self.matrix.indptr) > 0)
        self.draws = self.users if per == "users" else np.asarray(train.user, dtype=np.int64)

    @property
    def n_rows(self) -> int:
        return len(self.draws)

    def draw_epoch(self) -> Iterator[dict[str, torch.Tensor]]:
        rng = self.epoch_rng()
        order = rng.permutation(self.draws)
        for sl in self.batch_slices(len(order)):
            users = order[sl]
            rows = self.matrix[users]
            batch_row = np.repeat(np.arange(len(users), dtype=np.int64), np.diff(rows.indptr))
            yield {
                "user": torch.from_numpy(users),
                "row": torch.from_numpy(rows.toarray()),
                "row_nonzero": torch.from_numpy(np.stack([batch_row, rows.indices.astype(np.int64)])),
            }


class LabeledBatches(EpochBatches):
    """Labelled batches (``protocol.ranking: none``): the training records with their own 0/1 labels.

    Yields ``user``, ``item`` (``long[B]``), ``label`` (``float[B]``, the record's rating column,
    which holds the label) and ``context`` (``long[B, S]`` context ids, ``S`` may be 0); no negatives
    are sampled. Reshuffled every epoch with a generator seeded by (seed, epoch). ``kind`` is
    ``pointwise``: losses that accept pointwise batches (BCE) train on them.
    """

    kind = "pointwise"

    def __init__(self, train: Interactions, batch_size: int, seed: int, context: np.ndarray | None = None) -> None:
        super().__init__(batch_size, seed)
        if train.rating is None:
            raise ValueError("labelled batches need the training records' labels (ratings)")
        self.user, self.item = train.user, train.item
        self.label = np.asarray(train.rating, dtype=np.float32)
        self.context = np.zeros((len(train), 0), dtype=np.int64) if context is None else np.asarray(context, np.int64)

    @property
    def n_rows(self) -> int:
        return len(self.user)

    def draw_epoch(self) -> Iterator[dict[str, torch.Tensor]]:
        rng = self.epoch_rng()
        order = rng.permutation(len(self.user))
        for sl in self.batch_slices(len(order)):
            rows = order[sl]
            yield {
                "user": torch.from_numpy(self.user[rows]),
                "item": torch.from_numpy(self.item[rows]),
                "label": torch.from_numpy(self.label[rows]),
                "context": torch.from_numpy(self.context[rows]),
            }
