"""SASRec: self-attentive sequential recommendation.

W.-C. Kang, J. McAuley. "Self-Attentive Sequential Recommendation." ICDM 2018.

A stack of causal self-attention blocks over the user's latest ``max_len`` items (item plus learned
position embeddings); the state at position ``t`` scores the next item by a dot product with the
shared item embeddings. Trained on next-item targets at every position, with one sampled negative
per position and binary cross-entropy (``loss=sequence_bce``), as in the paper.

The block is the variant S3-Rec (K. Zhou et al., CIKM 2020) fine-tunes and reports as SASRec in its
tables: BERT-style post-layer-norm blocks (``LN(x + Dropout(Attn(x)))``, then
``LN(x + Dropout(FFN(x)))``, GELU feed-forward of width ``4 * embedding_dim``), layer norm and
dropout on the input embeddings, weights drawn from N(0, 0.02). The paper's own code puts the layer
norm before attention and uses ReLU; on the S3-Rec benchmark the numbers come from this variant.
Attention may read earlier non-padding positions and the position itself (so that a padding
position, whose output is never used, never has an empty softmax).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recframe.api import DatasetInfo
from recframe_sequential.base import SequentialRecommender, dropout, positive_int, probability


@dataclass
class Bucket:
    """Rows of similar length, laid out ``[n, w]`` for attention (``w`` = their longest length)."""

    gather: Tensor  # long[n, w]: packed token id of each cell, T (a zero row) for padding
    allowed: Tensor  # bool[n, 1, w, w]: (query, key) pairs attention may use
    tokens: Tensor  # long[T_b]: packed ids of the bucket's real cells, in row-major cell order
    real: Tensor  # bool[n, w]: cells holding a real token


def buckets(lengths: Tensor, widths: tuple[int, ...] = (8, 16, 32)) -> list[Bucket]:
    """Attention layouts for rows of ``lengths: long[B]`` real tokens, packed row after row.

    Rows go to the first bucket whose width fits them (the last takes the rest), and each bucket is
    right-aligned to its own longest row. Attention is computed row by row, so splitting rows this
    way changes no output; it only skips the padding, which on Amazon Beauty (about 7 items in a
    50-wide window) is most of the ``[B, L, L]`` attention work.
    """
    device = lengths.device
    offsets = torch.cumsum(lengths, 0) - lengths
    total = int(lengths.sum())
    edges = torch.tensor(widths, device=device)
    which = torch.bucketize(lengths, edges)  # bucket number of each row
    out = []
    for g in torch.unique(which).tolist():
        rows = (which == g).nonzero().squeeze(1)
        n_tok, start = lengths[rows], offsets[rows]
        w = max(int(n_tok.max()), 1)
        col = torch.arange(w, device=device)
        first = (w - n_tok).unsqueeze(1)  # first real column of each row
        real = col >= first
        gather = torch.where(real, start.unsqueeze(1) + col - first, torch.full_like(real, total, dtype=torch.long))
        allowed = torch.ones(w, w, dtype=torch.bool, device=device).tril() & (
            real.unsqueeze(1) | torch.eye(w, dtype=torch.bool, device=device)
        )
        out.append(Bucket(gather, allowed.unsqueeze(1), gather[real], real))
    return out


class SelfAttentionBlock(nn.Module):
    """One post-layer-norm Transformer block over the *packed* real positions of a batch.

    The projections, feed-forward and layer norms run on the ``T`` real (non-padding) positions
    alone; attention runs per length bucket (:func:`buckets`). On Amazon Beauty, where a user's
    50-wide window holds about 7 items, that is several times less work than the padded layout.
    """

    def __init__(self, d: int, num_heads: int, dropout: float, attention_dropout: float) -> None:
        super().__init__()
        self.num_heads, self.attention_dropout = num_heads, attention_dropout
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.norm1 = nn.LayerNorm(d, eps=1e-12)
        self.ff_in = nn.Linear(d, 4 * d)
        self.ff_out = nn.Linear(4 * d, d)
        self.norm2 = nn.LayerNorm(d, eps=1e-12)
        self.dropout = dropout

    def attend(self, qkv: Tensor, bucket: Bucket) -> Tensor:
        """Causal attention of one bucket: ``qkv: float[T + 1, 3d]`` (last row zero) -> ``float[T_b, d]``."""
        n, w = bucket.gather.shape
        d = qkv.shape[1] // 3
        q, k, v = qkv[bucket.gather].view(n, w, 3, self.num_heads, d // self.num_heads).permute(2, 0, 3, 1, 4)
        weights = (q @ k.transpose(-1, -2)).mul_(q.shape[-1] ** -0.5).masked_fill_(~bucket.allowed, -torch.inf)
        weights = dropout(torch.softmax(weights, dim=-1), self.attention_dropout, self.training)
        return (weights @ v).transpose(1, 2).reshape(n, w, d)[bucket.real]

    def forward(self, h: Tensor, layout: list[Bucket]) -> Tensor:
        """``h: float[T, d]`` packed states -> ``float[T, d]``."""
        qkv = torch.cat([self.qkv(h), h.new_zeros(1, 3 * h.shape[1])])
        attended = h.new_empty(h.shape)
        for bucket in layout:
            attended = attended.index_copy(0, bucket.tokens, self.attend(qkv, bucket))
        h = self.norm1(h + dropout(self.out(attended), self.dropout, self.training))
        return self.norm2(h + dropout(self.ff_out(F.gelu(self.ff_in(h))), self.dropout, self.training))


class SASRec(SequentialRecommender):
    """Causal self-attention over item sequences.

    Args:
        embedding_dim: hidden size ``d`` of items, positions and every block.
        num_layers: self-attention blocks.
        num_heads: attention heads (``embedding_dim`` must be a multiple).
        dropout: dropout on the input embeddings and after attention and feed-forward.
        attention_dropout: dropout on the attention weights (``None``: ``dropout``).
        max_len: positions read (the latest ``max_len`` items of a sequence).
    """

    param_aliases = {"embedding_size": "embedding_dim"}  # deprecated config names, still accepted

    def __init__(
        self,
        info: DatasetInfo,
        embedding_dim: int = 64,
        num_layers: int = 2,
        num_heads: int = 2,
        dropout: float = 0.5,
        attention_dropout: float | None = None,
        max_len: int = 50,
    ) -> None:
        super().__init__(info, embedding_dim, max_len)
        num_layers, num_heads = positive_int("num_layers", num_layers), positive_int("num_heads", num_heads)
        if self.embedding_dim % num_heads:
            raise ValueError(
                f"model.embedding_dim ({self.embedding_dim}) must be a multiple of model.num_heads ({num_heads})"
            )
        dropout = probability("dropout", dropout)
        attention_dropout = (
            dropout if attention_dropout is None else probability("attention_dropout", attention_dropout)
        )
        self.num_layers, self.num_heads = num_layers, num_heads
        self.position_embedding = nn.Embedding(self.max_len, self.embedding_dim)
        self.input_norm = nn.LayerNorm(self.embedding_dim, eps=1e-12)
        self.dropout = dropout
        self.blocks = nn.ModuleList(
            SelfAttentionBlock(self.embedding_dim, num_heads, dropout, attention_dropout) for _ in range(num_layers)
        )
        self.apply(self._init)
        with torch.no_grad():
            self.item_embedding.weight[self.n_items].zero_()

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def encode(self, seq: Tensor) -> Tensor:
        """``long[B, L]`` (``-1`` left padding, ``L <= max_len``) -> ``float[B, L, d]`` (zeros at padding).

        Positions are counted from the right (the latest item is position ``max_len - 1``), as in
        S3-Rec, whose windows are always ``max_len`` wide.
        """
        b, length = seq.shape
        if length > self.max_len:
            raise ValueError(f"sequences of length {length} exceed model.max_len={self.max_len}")
        real = seq >= 0
        index = real.reshape(-1).nonzero().squeeze(1)  # long[T]: flat positions of real items, row by row
        positions = index % length + (self.max_len - length)
        h = self.item_embedding(seq.reshape(-1)[index]) + self.position_embedding(positions)
        h = dropout(self.input_norm(h), self.dropout, self.training)
        layout = buckets(real.sum(dim=1))
        for block in self.blocks:
            h = block(h, layout)
        return h.new_zeros(b * length, self.embedding_dim).index_copy(0, index, h).view(b, length, -1)
