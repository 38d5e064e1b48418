"""The model contract.

Every model is a ``torch.nn.Module`` that scores users against items:

* ``score(users, items)`` for explicit pairs, and
* ``score_all(users)`` for a dense block of scores over every item (full ranking).

Gradient-trained models are fitted by Lightning on the batches their ``batch_kind`` names
(``pointwise``: user, item, label; ``pairwise``: user, positive, negatives; ``listwise``: whole
user rows; ``sequence``: item histories). Closed-form models (Pop, ItemKNN, EASE, iALS) subclass
:class:`ClosedFormRecommender` and implement ``fit(train)`` instead; the optimiser is skipped.

Models that score from a user's interaction history rather than from a learned user vector (the
sequential models) set ``uses_history = True`` and implement ``set_history(interactions)``: before
scoring a split part, the evaluator hands them the interactions that precede it (train for
validation, train and validation for test; see :meth:`recframe.data.split.Split.history`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from recframe.data.interactions import Interactions
from recframe.errors import ConfigError
from recframe.sizes import model_size

BATCH_KINDS = ("pointwise", "pairwise", "listwise", "sequence", "none")


@dataclass(frozen=True)
class DatasetInfo:
    """What a model may know about the data when it is built (training data only)."""

    n_users: int
    n_items: int
    train: Interactions
    item_popularity: np.ndarray  # int64[n_items]: training interactions per item
    features: Any = None  # recframe.data.features.FeatureTables when data.features is declared


class Recommender(nn.Module):
    """Base class of every recframe model."""

    #: The training batches the model reads (one of ``BATCH_KINDS``; see the module docstring).
    batch_kind: ClassVar[str] = "pairwise"
    #: True: trained by Lightning with the run's loss; False: ``fit(train)`` (closed form).
    trainable: ClassVar[bool] = True
    #: True if the model gives items absent from training a meaningful score (from content, or by
    #: definition as Pop's zero count). When False and valid/test hold such items, the runner applies
    #: ``protocol.cold_fallback`` (``error`` or ``popularity``) instead of trusting untrained scores.
    scores_unseen_items: ClassVar[bool] = False
    #: True if the scores are rating predictions, so RMSE/MAE against true ratings mean something;
    #: a ranking model (the default) asked for them is a one-line error.
    predicts_ratings: ClassVar[bool] = False
    #: True if ``score_all``/``score`` read the user's history, given by ``set_history`` (sequential models).
    uses_history: ClassVar[bool] = False
    #: True if an item scored ``-inf`` is not recommended at all (external lists, ``model=precomputed``): full
    #: ranking leaves the positions such items would fill empty (``-1``, never a hit) under every tie rule.
    minus_inf_is_unranked: ClassVar[bool] = False
    #: The longest input sequence a ``sequence``-batch model reads (sequence batches are left-padded
    #: to it); ``None`` for models that read no sequences. Sequential models set it per instance.
    max_len: int | None = None
    #: Attributes holding numpy/scipy data that is not part of the stored model (the training matrix
    #: kept to score users), left out of the parameter and byte counts (:mod:`recframe.sizes`).
    unstored: ClassVar[tuple[str, ...]] = ("history",)
    #: ``long[n]``: items the evaluators rank below every other item (set by the runner's
    #: ``protocol.cold_fallback=popularity``); ``None``: none.
    unseen_items: Tensor | None = None
    #: Deprecated config names of constructor parameters, old -> new (``{"embedding_size": "embedding_dim"}``):
    #: the old name still works from any config, renamed before the signature check with a warning, once.
    param_aliases: ClassVar[dict[str, str]] = {}
    #: ``(user table, item table)``: the names of the two ``nn.Embedding`` attributes whose rows' inner
    #: product is the whole score ``s(u, i) = <user[u], item[i]>`` (BPR-MF); ``None``: not such a model.
    #: ``trainer.optimizer=sgd_compiled`` trains exactly these tables (recframe/training/compiled_epoch.py).
    dot_product_tables: ClassVar[tuple[str, str] | None] = None
    #: The users x items training matrix (``scipy.sparse`` CSR) a model keeps to score users from their rows
    #: (EASE, ItemKNN, Mult-VAE; sequential models keep ``long[n_users, max_len]`` latest items instead).
    #: Declared without a class default, as sequential models register it as a buffer; a model that keeps
    #: none has no such attribute, which recframe reads as ``None``. Serving folds in a new user by swapping
    #: in that user's row when it is a users x items sparse matrix.
    history: Any

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "score_all" in cls.__dict__:
            cls.score_all = _tensor_scores(cls.__dict__["score_all"])  # type: ignore[method-assign]

    def __init__(self, info: DatasetInfo) -> None:
        super().__init__()
        self.n_users = info.n_users
        self.n_items = info.n_items
        self.unseen_items: Tensor | None = None  # long[n]: items the runner ranks last (cold fallback)

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        """Scores of ``items[b]`` for ``users[b]``: ``long[B], long[B] -> float[B]``."""
        return self.score_all(users).gather(1, items.view(-1, 1)).view(-1)

    def score_all(self, users: Tensor) -> Tensor:
        """Scores of every item for each user: ``long[B] -> float[B, n_items]``."""
        raise NotImplementedError

    def score_many(self, users: Tensor, items: Tensor) -> Tensor:
        """Scores of ``n`` items a user: ``long[B], long[B, n] -> float[B, n]`` (sampled negatives,
        a teacher's top-K). By default :meth:`score` on the ``B * n`` pairs; a model whose user part
        can be computed once per row overrides it."""
        b, n = items.shape
        return self.score(users.repeat_interleave(n), items.reshape(-1)).view(b, n)

    def score_factors(self, users: Tensor) -> tuple[Tensor, Tensor] | None:
        """``(P: float[B, d], Q: float[n_items, d])`` when the model's scores are inner products:
        ``score_all(users)[b] = P[b] @ Q.T`` plus at most a constant per row. ``None`` (the default)
        otherwise. Full ranking then finds the top items without scoring every item in float32
        (:mod:`recframe.evaluation.factor_ranking`); the lists are the same."""
        return None

    def training_flops(self, batch: dict[str, Tensor], all_scores: bool) -> int | None:
        """Matrix-multiply FLOPs of one training step (forward and backward) on ``batch``, counted
        analytically; ``all_scores``: the loss also scores every item (``training_all_scores``).
        ``None`` (the default): recframe counts them with torch's ``FlopCounterMode`` on one step
        (:mod:`recframe.training.flops`); a model whose work torch cannot see (a compiled kernel)
        or that has an exact formula overrides it."""
        return None

    def storage(self) -> tuple[int, int] | None:
        """``(stored numbers, bytes)`` when the model reports its own size; ``None`` (the default)
        lets recframe count it: ``state_dict`` tensors (dense or torch sparse) plus numpy arrays and
        scipy sparse matrices held as module attributes (:func:`recframe.sizes.model_size`)."""
        return None

    # -- serving (recframe.serving): a model overrides these only where the generic way does not fit ----------
    def fold_in(self, items: Tensor) -> Tensor | None:
        """``float[n_items]``: scores for a user the model never saw, whose history is ``items: long[n]``
        (internal ids, oldest first). ``None`` (the default): recframe's generic fold-in
        (:mod:`recframe.serving.foldin`: the ``history`` row swapped for the new one, else a least-squares
        user vector against :meth:`serving_factors`' item side, else a one-line error)."""
        return None

    def serving_factors(self, users: Tensor) -> tuple[Tensor, Tensor] | None:
        """``(P: float[B, d], Q: float[n_items, d])`` whose inner products order the items as
        ``score_all(users)`` does, for serving's similar items (rows of ``Q``), approximate index and
        least-squares fold-in. By default :meth:`score_factors`; a model whose scores are inner products
        that evaluation should not shortcut (a user state computed from the history, content profiles)
        returns them here. ``None``: the model has no such vectors."""
        return self.score_factors(users)

    def serving_state(self) -> dict[str, Any] | None:
        """The fitted state to save with a served model beside ``state_dict``: ``{name: Tensor | ndarray |
        scipy.sparse matrix}``. ``None`` (the default): recframe walks the model's attributes for such
        values (:mod:`recframe.serving.state`). A model whose state lives elsewhere returns it here."""
        return None

    def load_serving_state(self, state: dict[str, Any]) -> None:
        """Put back the model's own saved attributes (what the attribute walk or :meth:`serving_state`
        saved), on a freshly built model, before ``load_state_dict``. The default sets each as an attribute
        of the same name; a model that overrides :meth:`serving_state` overrides this too."""
        for name, value in state.items():
            setattr(self, name, value)

    # -- explanations (recframe.explain): gradients over the history row a model reads -------------------------
    def row_inputs(self, rows: Tensor) -> Tensor | None:
        """The network input ``float[B, n_items]`` for users' history rows ``rows: float[B, n_items]`` (Mult-VAE:
        the L2-normalised row), for a model whose scores are a differentiable function of it:
        ``score_rows(row_inputs(x_u))`` equals ``score_all(u)`` when ``history`` holds ``x_u``. Gradient
        explainers attribute the scores over this input. ``None`` (the default): no such input."""
        return None

    def score_rows(self, inputs: Tensor) -> Tensor:
        """``float[B, n_items] -> float[B, n_items]``: scores from :meth:`row_inputs`' output, differentiable
        in ``inputs``; implemented by the models whose :meth:`row_inputs` is not ``None``."""
        raise NotImplementedError

    def set_history(self, history: Interactions) -> None:
        """Use ``history`` (the interactions before the evaluated part) when scoring; models with
        ``uses_history`` implement it, the others ignore it."""

    def training_all_scores(self, outputs: dict[str, Tensor], batch: dict[str, Tensor]) -> Tensor:
        """Scores over every item for a loss that needs them (``needs_all_scores``), one row per
        training example: by default ``score_all(batch["user"])``, ``float[B, n_items]``."""
        return self.score_all(batch["user"])

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """Model outputs for a training batch, read by the loss.

        The default handles ``pairwise`` batches (``user: long[B]``, ``pos_item: long[B]``,
        ``neg_item: long[B, n]``) and returns ``pos_score: [B]`` and ``neg_score: [B, n]``; and
        ``pointwise`` batches (``user``, ``item``, ``label``), returning ``score: [B]``. A model may
        add ``regularization`` (a scalar), which the trainer adds to the loss.
        """
        if "pos_item" in batch:
            users = batch["user"]
            neg = batch["neg_item"]
            pos_score = self.score(users, batch["pos_item"])
            neg_score = self.score_many(users, neg.view(len(neg), -1)).view(neg.shape)
            return {"pos_score": pos_score, "neg_score": neg_score}
        return {"score": self.score(batch["user"], batch["item"])}


def _tensor_scores(score_all: Callable[..., Any]) -> Callable[..., Tensor]:
    """Wrap a model's ``score_all`` so a numpy array it returns becomes a tensor on the users' device (a
    model written against numpy, e.g. a closed-form one, needs no conversion of its own)."""
    if getattr(score_all, "_returns_tensor", False):
        return score_all

    @functools.wraps(score_all)
    def wrapped(self: Any, users: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        scores = score_all(self, users, *args, **kwargs)
        if isinstance(scores, np.ndarray):
            return torch.as_tensor(scores, device=users.device if isinstance(users, Tensor) else None)
        return scores

    wrapped._returns_tensor = True  # type: ignore[attr-defined]
    return wrapped


def apply_history(model: nn.Module, history: Interactions | None) -> None:
    """Give a history-reading model (``uses_history``) the interactions before the evaluated part.

    Called by the evaluators before scoring; a no-op for other models. A model that needs a history
    where the evaluation target carries none is a one-line error.
    """
    if not getattr(model, "uses_history", False):
        return
    if history is None:
        raise ConfigError(
            f"model '{type(model).__name__}' scores from the user's history, but this evaluation "
            f"target carries none; evaluate it through recframe's runner (ranking_targets)"
        )
    model.set_history(history)


def rank_unseen_last(model: nn.Module, scores: Tensor, items: Tensor | None = None) -> Tensor:
    """Scores with the model's ``unseen_items`` (if set) below every other item of their row.

    ``scores: float[B, n_items]`` (``items`` None) or ``float[B, L]`` for the item ids ``items: long[B, L]``;
    changed in place and returned. This is the ``popularity`` cold fallback: such items have no
    training interaction, so Pop would rank them last too.
    """
    unseen = getattr(model, "unseen_items", None)
    if unseen is None or not len(unseen):
        return scores
    unseen = unseen.to(scores.device)
    mask = (
        torch.isin(items, unseen)
        if items is not None
        else torch.zeros(scores.shape[1], dtype=torch.bool, device=scores.device)
        .index_fill_(0, unseen, True)
        .expand_as(scores)
    )
    low = scores.masked_fill(mask, torch.inf).amin(dim=1, keepdim=True) - 1.0
    return torch.where(mask, low.expand_as(scores), scores)


class ClosedFormRecommender(Recommender):
    """A model fitted in closed form or by its own solver, without an optimiser."""

    batch_kind: ClassVar[str] = "none"
    trainable: ClassVar[bool] = False

    def fit(self, train: Interactions) -> None:
        """Fit on the training interactions (called once, before evaluation)."""
        raise NotImplementedError


class Loss(nn.Module):
    """Base class of losses: ``loss(outputs, batch) -> scalar``."""

    #: The model batch kinds (``Recommender.batch_kind``) this loss reads.
    batch_kinds: ClassVar[tuple[str, ...]] = ("pairwise",)
    #: True if the loss reads scores over every item (``outputs["all_scores"]: float[B, n_items]``,
    #: from ``Recommender.training_all_scores``): softmax and sequence losses.
    needs_all_scores: ClassVar[bool] = False

    def forward(self, outputs: dict[str, Tensor], batch: dict[str, Tensor]) -> Tensor:  # pragma: no cover
        raise NotImplementedError


def count_parameters(model: nn.Module) -> int:
    """Stored numbers: ``model.storage()[0]``, or counted by :func:`recframe.sizes.model_size`."""
    return model_size(model)[0]


def model_bytes(model: nn.Module) -> int:
    """Bytes of what the model stores: ``model.storage()[1]``, or counted (:mod:`recframe.sizes`)."""
    return model_size(model)[1]
