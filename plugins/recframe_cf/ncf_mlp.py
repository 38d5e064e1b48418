"""The multi-layer perceptron half of NCF (NCF-MLP).

X. He, L. Liao, H. Zhang, L. Nie, X. Hu, T.-S. Chua. "Neural Collaborative Filtering." WWW 2017.

``s(u, i) = h^T MLP([p_u; q_i])`` with ReLU layers of sizes ``hidden_sizes``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from recframe.api import DatasetInfo, Recommender


def mlp(sizes: Sequence[int], dropout: float) -> nn.Sequential:
    """``Dropout -> Linear -> ReLU`` for each consecutive pair in ``sizes``."""
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Dropout(dropout), nn.Linear(fan_in, fan_out), nn.ReLU()]
    return nn.Sequential(*layers)


def tower_on_all_pairs(
    tower: nn.Sequential,
    user_vectors: Tensor,
    item_vectors: Tensor,
    max_cells: int = 1 << 24,
    head: Tensor | None = None,
) -> Tensor:
    """The tower's output for every (user, item) pair, without materialising the concatenations.

    ``user_vectors: float[B, d_u]``, ``item_vectors: float[I, d_i]`` -> ``float[B, I, h]``, or
    ``float[B, I]`` when ``head: float[h]`` is given (the output projected on it chunk by chunk, so
    the ``[B, I, h]`` block is never stored). The first layer of the tower on ``[p_u; q_i]`` is
    ``W_u p_u + W_i q_i + b``, so each side is multiplied once and the pairs only add (a quarter of
    the arithmetic for an NCF tower, and no ``B * I`` gathers of embeddings); ReLUs work in place on
    the chunk's own intermediates. Users go in chunks of at most ``max_cells`` hidden values.
    Evaluation only (dropout is skipped, as in ``eval()`` mode).
    """
    modules = [m for m in tower if not isinstance(m, nn.Dropout)]
    first, rest = modules[0], modules[1:]  # modules[0] is first_layer(tower)
    d_u = user_vectors.shape[1]
    users_part = user_vectors @ first.weight[:, :d_u].T + first.bias  # [B, h1]
    items_part = item_vectors @ first.weight[:, d_u:].T  # [I, h1]
    step = max(1, max_cells // max(1, items_part.numel()))
    chunks = []
    for i in range(0, len(users_part), step):
        x = users_part[i : i + step, None, :] + items_part[None, :, :]  # [s, I, h1], ours to overwrite
        for module in rest:
            x = torch.relu_(x) if isinstance(module, nn.ReLU) else module(x)
        chunks.append(x if head is None else x @ head)
    return torch.cat(chunks)


def is_float_linear(*layers: nn.Module) -> bool:
    """Whether every layer is a float ``nn.Linear`` whose weight can be split by input columns;
    a compressed layer (e.g. int8 dynamic quantization) scores through its own forward instead."""
    return all(isinstance(layer, nn.Linear) for layer in layers)


def first_layer(tower: nn.Sequential) -> nn.Module:
    """The tower's first linear layer (the one :func:`tower_on_all_pairs` splits by side)."""
    return next(m for m in tower if not isinstance(m, nn.Dropout))


def score_every_pair(model: Recommender, users: Tensor) -> Tensor:
    """``long[B] -> float[B, n_items]`` through ``model.score`` on all ``B * n_items`` pairs: the
    general path for layers that cannot be split (see :func:`is_float_linear`)."""
    items = torch.arange(model.n_items, device=users.device)
    return model.score_many(users, items.expand(len(users), -1))


class NCFMLP(Recommender):
    """User and item embeddings concatenated into a tower of ``hidden_sizes``."""

    batch_kind = "pointwise"

    def __init__(
        self,
        info: DatasetInfo,
        embedding_dim: int = 64,
        hidden_sizes: Sequence[int] = (128, 64, 32),
        dropout: float = 0.0,
    ) -> None:
        super().__init__(info)
        if not hidden_sizes:
            raise ValueError("hidden_sizes needs at least one layer")
        self.user_embedding = nn.Embedding(self.n_users, embedding_dim)
        self.item_embedding = nn.Embedding(self.n_items, embedding_dim)
        for emb in (self.user_embedding, self.item_embedding):
            nn.init.normal_(emb.weight, std=0.01)
        self.tower = mlp([2 * embedding_dim, *hidden_sizes], dropout)
        self.output = nn.Linear(hidden_sizes[-1], 1)

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        """``long[B], long[B] -> float[B]`` (logits)."""
        x = torch.cat([self.user_embedding(users), self.item_embedding(items)], dim=-1)
        return self.output(self.tower(x)).squeeze(-1)

    def score_all(self, users: Tensor) -> Tensor:
        """``long[B] -> float[B, n_items]``: every (user, item) pair through the tower."""
        if not is_float_linear(first_layer(self.tower)):
            return score_every_pair(self, users)
        deep = tower_on_all_pairs(self.tower, self.user_embedding(users), self.item_embedding.weight)
        return self.output(deep).squeeze(-1)
