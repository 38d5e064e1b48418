"""Hybrid matrix factorisation: item = collaborative embedding + projection of its content (BPR).

In the spirit of M. Kula, "Metadata Embeddings for User and Item Cold-start Recommendations" (LightFM,
CBRecSys 2015), with the collaborative part dropped at random during training as in M. Volkovs,
G. Yu, T. Poutanen, "DropoutNet: Addressing Cold Start in Recommender Systems", NeurIPS 2017, so that
the content part alone also ranks well.

``q_i = m_i * e_i + W x_i`` and ``s(u, i) = <p_u, q_i>``, where ``e_i`` is the item's collaborative
embedding, ``x_i`` its content (``float[d]``) and ``m_i`` is 1 for items seen in training and 0 for
the others (their ``e_i`` was only ever pushed down as a sampled negative). Warm items use both
parts, cold items content only.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from recframe.api import DatasetInfo, Recommender
from recframe_content.representations import item_representation
from recframe_content.sparse_rows import ContentRows


class HybridMF(Recommender):
    """BPR matrix factorisation whose item vectors add a linear map of item content."""

    batch_kind = "pairwise"
    scores_unseen_items = True

    def __init__(
        self,
        info: DatasetInfo,
        representation: str = "attributes",
        embedding_dim: int = 64,
        cf_dropout: float = 0.2,
        text_fields: list[str] | tuple[str, ...] = ("title",),
    ) -> None:
        super().__init__(info)
        if int(embedding_dim) < 1:
            raise ValueError(f"embedding_dim must be >= 1, got {embedding_dim}")
        if not 0.0 <= float(cf_dropout) < 1.0:
            raise ValueError(f"cf_dropout must be in [0, 1), got {cf_dropout}")
        self.cf_dropout = float(cf_dropout)
        x = item_representation(info.train.item_features, str(representation), tuple(text_fields))
        self.content = ContentRows(x)  # float32[n_items, d], dense or CSR (TF-IDF); not in the state dict
        warm = torch.as_tensor(info.item_popularity > 0, dtype=torch.float32)
        self.register_buffer("warm", warm, persistent=False)  # float32[n_items]: 1 if seen in training
        dim = int(embedding_dim)
        self.user_embedding = nn.Embedding(self.n_users, dim)
        self.item_embedding = nn.Embedding(self.n_items, dim)
        self.project = nn.Linear(x.shape[1], dim, bias=False)
        nn.init.xavier_normal_(self.user_embedding.weight)
        nn.init.xavier_normal_(self.item_embedding.weight)

    def item_vectors(self, items: Tensor) -> Tensor:
        """``long[B] -> float[B, dim]``; in training the collaborative part is dropped with ``cf_dropout``."""
        keep = self.warm[items]
        if self.training and self.cf_dropout > 0:
            keep = keep * (torch.rand_like(keep) >= self.cf_dropout).float()
        return keep.unsqueeze(-1) * self.item_embedding(items) + self.content.project(items, self.project.weight)

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        """``long[B], long[B] -> float[B]``."""
        return (self.user_embedding(users) * self.item_vectors(items)).sum(-1)

    def score_all(self, users: Tensor) -> Tensor:
        """``long[B] -> float[B, n_items]`` (evaluation: no dropout)."""
        items = self.warm.unsqueeze(-1) * self.item_embedding.weight + self.content.project(None, self.project.weight)
        return self.user_embedding(users) @ items.T
