"""Linear content model trained on interactions with BPR: items are a linear map of their features.

Z. Gantner, L. Drumond, C. Freudenthaler, S. Rendle, L. Schmidt-Thieme. "Learning Attribute-to-Feature
Mappings for Cold-Start Recommendations." ICDM 2010 (BPR-trained attribute-to-factor mapping).

``s(u, i) = <p_u, W x_i> + <b, x_i>`` with ``p_u`` in ``R^dim``, ``W`` in ``R^{dim x d}`` and ``x_i`` the
item's content representation (``float[d]``). No per-item parameter exists, so every item, seen in
training or not, is scored from its content.
"""

from __future__ import annotations

from torch import Tensor, nn

from recframe.api import DatasetInfo, Recommender
from recframe_content.representations import item_representation
from recframe_content.sparse_rows import ContentRows


class ContentLinear(Recommender):
    """User embeddings dotted with a learned linear projection of item content (BPR)."""

    batch_kind = "pairwise"
    scores_unseen_items = True

    def __init__(
        self,
        info: DatasetInfo,
        representation: str = "attributes",
        embedding_dim: int = 64,
        text_fields: list[str] | tuple[str, ...] = ("title",),
    ) -> None:
        super().__init__(info)
        if int(embedding_dim) < 1:
            raise ValueError(f"embedding_dim must be >= 1, got {embedding_dim}")
        x = item_representation(info.train.item_features, str(representation), tuple(text_fields))
        # Content is data rebuilt from the dataset, not a learned parameter: kept out of the state dict.
        self.content = ContentRows(x)  # float32[n_items, d], dense or CSR (TF-IDF)
        self.user_embedding = nn.Embedding(self.n_users, int(embedding_dim))
        self.project = nn.Linear(x.shape[1], int(embedding_dim), bias=False)
        self.item_bias = nn.Linear(x.shape[1], 1, bias=False)
        nn.init.xavier_normal_(self.user_embedding.weight)
        nn.init.zeros_(self.item_bias.weight)

    def item_vectors(self, items: Tensor | None = None) -> Tensor:
        """``long[B] -> float[B, dim]`` (all items when ``items`` is None)."""
        return self.content.project(items, self.project.weight)

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        """``long[B], long[B] -> float[B]``."""
        return (self.user_embedding(users) * self.content.project(items, self.project.weight)).sum(
            -1
        ) + self.content.project(items, self.item_bias.weight).squeeze(-1)

    def score_all(self, users: Tensor) -> Tensor:
        """``long[B] -> float[B, n_items]``."""
        return self.user_embedding(users) @ self.content.project(None, self.project.weight).T + self.content.project(
            None, self.item_bias.weight
        ).squeeze(-1)
