"""GRU4Rec: recurrent next-item recommendation.

B. Hidasi, A. Karatzoglou, L. Baltrunas, D. Tikk. "Session-based Recommendations with Recurrent
Neural Networks." ICLR 2016.

Item embeddings (with dropout) run through a ``num_layers`` GRU; a linear layer maps each hidden
state to the item space, and the state at position ``t`` scores the next item by a dot product with
the shared item embeddings. The paper trains on session-parallel mini-batches with ranking losses
(TOP1, BPR); here it trains like the other sequential models, on each user's training sequence with
next-item targets at every position (``loss=sequence_bce`` with one negative per position, or
``loss=sequence_ce``), which is how the S3-Rec line of papers (and RecBole) run it as a baseline.

Sequences are left-padded: the GRU reads the padding (a zero embedding) before the first item, so
a state depends only on earlier positions, as next-item prediction requires.
"""

from __future__ import annotations

from torch import Tensor, nn

from recframe.api import DatasetInfo
from recframe_sequential.base import SequentialRecommender, positive_int, probability


class GRU4Rec(SequentialRecommender):
    """A GRU over item sequences.

    Args:
        embedding_dim: size ``d`` of the item embeddings and of the GRU's hidden state.
        num_layers: stacked GRU layers.
        dropout: dropout on the input embeddings (and between GRU layers when ``num_layers > 1``).
        max_len: positions read (the latest ``max_len`` items of a sequence).
    """

    param_aliases = {"embedding_size": "embedding_dim"}  # deprecated config names, still accepted

    def __init__(
        self, info: DatasetInfo, embedding_dim: int = 64, num_layers: int = 1, dropout: float = 0.3, max_len: int = 50
    ) -> None:
        super().__init__(info, embedding_dim, max_len)
        self.num_layers = positive_int("num_layers", num_layers)
        dropout = probability("dropout", dropout)
        self.input_dropout = nn.Dropout(dropout)
        self.gru = nn.GRU(
            self.embedding_dim,
            self.embedding_dim,
            self.num_layers,
            batch_first=True,
            dropout=dropout if self.num_layers > 1 else 0.0,
        )
        self.output = nn.Linear(self.embedding_dim, self.embedding_dim)
        nn.init.xavier_normal_(self.item_embedding.weight)
        for name, weight in self.gru.named_parameters():
            if name.startswith("weight"):
                nn.init.xavier_uniform_(weight)
        self.item_embedding.weight.data[self.n_items].zero_()

    def encode(self, seq: Tensor) -> Tensor:
        """``long[B, L]`` (``-1`` left padding) -> ``float[B, L, d]``."""
        states, _ = self.gru(self.input_dropout(self.item_embedding(self.embedding_index(seq))))
        return self.output(states)
