"""What every context-aware (CTR) model shares: field embeddings, the first-order term, the MLP,
pair scoring for full ranking, and the context used when ranking.

A model sees one example as ``F`` fields (``recframe/data/features.py``): the user's (user id,
gender, ...), the item's (item id, genres, ...) and the interaction's context (hour, weekday).
:class:`FieldEmbedding` maps the example's slot ids to ``[B, F, d]`` field vectors (a multi-hot
field is the mean of its tokens' vectors, as in RecBole). :class:`ContextRecommender` implements
the recframe model contract on top of ``logits(user_vectors...)``: training batches (labelled
records with their context under ``protocol.ranking: none``; sampled pointwise batches under the
general protocol), ``score`` for pairs and ``score_all`` for full ranking.

Ranking context (``rank_context``): a top-K list is asked for without an interaction, so the
context fields take a declared value: ``last`` (default) uses each user's context at their latest
training interaction; a mapping such as ``{hour: 20, weekday: 5}`` fixes the fields it names for
everyone (the others are *missing*); ``null`` leaves every context field *missing*. Sampled
pointwise training batches (general protocol) use the same ranking context, so training and
ranking see the same inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from recframe.api import FeatureTables, build_features
from recframe.api import ConfigError
from recframe.api import DatasetInfo, Recommender
from recframe_context.pairs import mlp_on_pairs  # noqa: F401  (re-exported: the models import it from here)


def init_weights(module: nn.Module) -> None:
    """Xavier-normal weights and zero biases for linear and embedding layers (RecBole's init)."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.xavier_normal_(module.weight)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)


def mlp(in_dim: int, hidden_size: int, num_layers: int, dropout: float, batch_norm: bool = False) -> nn.Sequential:
    """``num_layers`` blocks ``Linear(hidden_size) [-> BatchNorm] -> ReLU -> Dropout``: ``[N, in_dim] -> [N, hidden_size]``."""
    if num_layers < 1 or hidden_size < 1:
        raise ValueError(f"num_layers and hidden_size must be >= 1, got {num_layers} and {hidden_size}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    layers: list[nn.Module] = []
    for i in range(num_layers):
        layers.append(nn.Linear(in_dim if i == 0 else hidden_size, hidden_size))
        if batch_norm:
            layers.append(nn.BatchNorm1d(hidden_size))
        layers += [nn.ReLU(), nn.Dropout(dropout)]
    return nn.Sequential(*layers)


class FieldEmbedding(nn.Module):
    """Field vectors from slot ids: ``long[B, S] -> float[B, F, dim]``.

    One table holds every field's ids (``vocab_size + 1`` rows, the last one the padding of
    multi-hot fields, fixed at zero). A field's vector is the mean of its non-padding slots' rows,
    computed with the constant slot-to-field matrix ``pool: float[S, F]``.
    """

    def __init__(self, tables: FeatureTables, dim: int) -> None:
        super().__init__()
        self.pad = tables.pad
        self.embedding = nn.Embedding(tables.vocab_size + 1, dim, padding_idx=tables.pad)
        slot_field = np.concatenate([tables.slot_field[s] for s in ("user", "item", "context")])
        pool = np.zeros((len(slot_field), tables.n_fields), dtype=np.float32)
        pool[np.arange(len(slot_field)), slot_field] = 1.0
        self.register_buffer("pool", torch.from_numpy(pool), persistent=False)

    def reset_padding(self) -> None:
        with torch.no_grad():
            self.embedding.weight[self.pad].zero_()

    def forward(self, slots: Tensor) -> Tensor:
        present = (slots != self.pad).float()  # [B, S]
        summed = torch.einsum("bsd,sf->bfd", self.embedding(slots), self.pool)
        counts = (present @ self.pool).clamp_min(1.0)  # [B, F]
        return summed / counts.unsqueeze(-1)


class ContextRecommender(Recommender):
    """Base of the CTR models: slot lookup, training outputs, pair and full-ranking scores.

    Subclasses implement :meth:`combine` on the field vectors ``[N, F, d]`` of ``self.embed`` and
    the optional first-order term ``self.linear``; slots (``long[B, S]``) are the user's, item's and
    context's ids side by side. Under the general protocol they train on sampled pointwise batches
    (``batch_kind = "pointwise"``, BCE); under ``protocol.ranking: none`` on labelled records.
    """

    batch_kind = "pointwise"
    #: full ranking scores this many (user, item) pairs per forward pass (bounds memory)
    pair_chunk = 1 << 16

    def __init__(self, info: DatasetInfo, embedding_dim: int = 16, rank_context: Any = "last") -> None:
        super().__init__(info)
        if embedding_dim < 1:
            raise ValueError(f"embedding_dim must be >= 1, got {embedding_dim}")
        tables = info.features if info.features is not None else build_features(None, info.train)
        self.tables = tables
        self.embedding_dim = int(embedding_dim)
        self.n_fields = tables.n_fields
        # items absent from training still get a score from their item fields (genres, year, ...)
        self.scores_unseen_items = any(f.side == "item" and f.name != "item_id" for f in tables.fields)
        self.register_buffer("user_slots", torch.from_numpy(tables.user), persistent=False)
        self.register_buffer("item_slots", torch.from_numpy(tables.item), persistent=False)
        self.register_buffer("rank_ctx", torch.from_numpy(self._rank_context(info, rank_context)), persistent=False)
        self.n_user_slots, self.n_item_slots = tables.user.shape[1], tables.item.shape[1]
        self.embed = FieldEmbedding(tables, self.embedding_dim)
        self.linear: FirstOrder | None = None  # a subclass that has a first-order term sets it

    def init_weights(self) -> None:
        """Xavier-normal init of every linear and embedding layer, then zero padding rows (call last)."""
        self.apply(init_weights)
        for m in self.modules():
            if isinstance(m, FieldEmbedding):
                m.reset_padding()

    def _rank_context(self, info: DatasetInfo, spec: Any) -> np.ndarray:
        """``int64[n_users, S_context]`` context ids used for ranking and sampled training batches."""
        t = self.tables
        if spec == "last":
            if t.context_width and info.train.timestamp is None:
                raise ConfigError(
                    "model.rank_context=last needs timestamps; declare values, e.g. "
                    "model.rank_context={hour:20,weekday:5}"
                )
            return t.last_context(info.train) if t.context_width else np.zeros((info.n_users, 0), np.int64)
        if spec is None:
            return np.tile(t.unknown_context(), (info.n_users, 1))
        if isinstance(spec, dict):
            return np.tile(t.fixed_context(spec), (info.n_users, 1))
        raise ConfigError(
            f"model.rank_context must be 'last', null or a mapping of context fields to values, got {spec!r}"
        )

    def slots(self, users: Tensor, items: Tensor, context: Tensor | None = None) -> Tensor:
        """``long[B, S]``: the user's, item's and context's slot ids (``context`` None: ranking context)."""
        ctx = self.rank_ctx[users] if context is None else context
        return torch.cat([self.user_slots[users], self.item_slots[items], ctx.to(users.device)], dim=1)

    def logits(self, slots: Tensor) -> Tensor:
        """Click logits: ``long[B, S] -> float[B]``."""
        return self.combine(self.embed(slots), None if self.linear is None else self.linear(slots))

    def combine(self, v: Tensor, linear: Tensor | None) -> Tensor:
        """The model's logit from field vectors ``v: float[N, F, d]`` and the first-order term
        ``linear: float[N]`` (bias included; None for models without one): ``-> float[N]``."""
        raise NotImplementedError

    def regularization(self) -> Tensor | None:
        """An optional penalty added to the training loss (e.g. DCNv2's cross-weight norms)."""
        return None

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """``{"score": float[B]}`` for ``user, item: long[B]`` (``context: long[B, S_ctx]`` if given).

        Pairwise batches fall back to the base class (scores of positives and negatives).
        """
        if "pos_item" in batch:
            out = super().forward(batch)
        else:
            out = {"score": self.logits(self.slots(batch["user"], batch["item"], batch.get("context")))}
        if self.training:
            reg = self.regularization()
            if reg is not None:
                out["regularization"] = reg
        return out

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        """Logits of explicit pairs under the ranking context: ``long[B], long[B] -> float[B]``."""
        return self.logits(self.slots(users, items))

    def side_slots(self, users: Tensor) -> tuple[Tensor, Tensor]:
        """The query's slots (user and ranking context; item slots padded) ``long[B, S]`` and every
        item's slots (user and context slots padded) ``long[n_items, S]``.

        Every field belongs to one side, so a pair's field vectors are the sum of its query's and its
        item's (padded fields embed to zero) and the first-order term splits the same way.
        """
        pad, nu, ni = self.embed.pad, self.n_user_slots, self.n_item_slots
        query = self.slots(users, torch.zeros_like(users))
        query[:, nu : nu + ni] = pad
        items = torch.arange(self.n_items, device=users.device)
        cand = self.slots(torch.zeros_like(items), items, self.rank_ctx[:1].expand(len(items), -1)).clone()
        cand[:, :nu] = pad
        cand[:, nu + ni :] = pad
        return query, cand

    def score_all(self, users: Tensor) -> Tensor:
        """Every item for each user under the ranking context: ``long[B] -> float[B, n_items]``.

        Field vectors are embedded once per side (:meth:`side_slots`). In eval mode, a model with
        :meth:`score_sides` splits its first layers by side there (each side multiplied once, the
        pairs only add; see docs/context.md); otherwise, and in training mode (dropout), every pair
        goes through :meth:`combine` (:meth:`score_all_pairs`). FM overrides this with its closed form.
        """
        if self.training:
            return self.score_all_pairs(users)
        query, cand = self.side_slots(users)
        vq, vi = self.embed(query), self.embed(cand)  # [B, F, d], [n_items, F, d]
        lq = li = None
        if self.linear is not None:
            lq, li = self.linear(query), self.linear.per_field(cand).sum(1)  # bias counted once (query side)
        scores = self.score_sides(vq, vi, lq, li)
        return scores if scores is not None else self._combine_pairs(vq, vi, lq, li)

    def score_sides(self, vq: Tensor, vi: Tensor, lq: Tensor | None, li: Tensor | None) -> Tensor | None:
        """``float[B, n_items]`` from the query's field vectors ``vq: float[B, F, d]`` and the items'
        ``vi: float[n_items, F, d]`` (each zero on the other side's fields), and the first-order
        terms ``lq: float[B]`` (with the bias), ``li: float[n_items]``; ``None``: not available
        (the layers cannot be split, e.g. a compressed layer), score pair by pair."""
        return None

    def score_all_pairs(self, users: Tensor) -> Tensor:
        """:meth:`score_all` with every (user, item) pair through :meth:`combine`, ``pair_chunk`` pairs at a
        time: the reference the side-split path is tested against, and the path for compressed layers."""
        query, cand = self.side_slots(users)
        vq, vi = self.embed(query), self.embed(cand)
        lq = li = None
        if self.linear is not None:
            lq, li = self.linear(query), self.linear.per_field(cand).sum(1)
        return self._combine_pairs(vq, vi, lq, li)

    def _combine_pairs(self, vq: Tensor, vi: Tensor, lq: Tensor | None, li: Tensor | None) -> Tensor:
        out = torch.empty(len(vq), self.n_items, device=vq.device)
        per = max(1, self.pair_chunk // self.n_items)
        for start in range(0, len(vq), per):
            sl = slice(start, start + per)
            v = (vq[sl, None] + vi[None]).flatten(0, 1)
            lin = None if lq is None else (lq[sl, None] + li[None]).flatten()
            out[sl] = self.combine(v, lin).view(-1, self.n_items)
        return out


def splittable(*layers: nn.Module) -> bool:
    """Whether every layer is a plain float ``nn.Linear`` whose weight can be split by input columns
    (a compressed layer, e.g. int8 dynamic quantization, scores pair by pair instead)."""
    return all(type(layer) is nn.Linear for layer in layers)


class FirstOrder(nn.Module):
    """The linear term ``w0 + sum_f w_f(x_f)``: ``long[B, S] -> float[B]`` (multi-hot fields: mean weight)."""

    def __init__(self, tables: FeatureTables) -> None:
        super().__init__()
        self.weights = FieldEmbedding(tables, 1)
        self.bias = nn.Parameter(torch.zeros(1))

    def per_field(self, slots: Tensor) -> Tensor:
        """``long[B, S] -> float[B, F]``: each field's weight."""
        return self.weights(slots).squeeze(-1)

    def forward(self, slots: Tensor) -> Tensor:
        return self.per_field(slots).sum(dim=1) + self.bias
