"""SASRec: self-attentive sequential recommendation.

W.-C. Kang, J. McAuley. "Self-Attentive Sequential Recommendation." ICDM 2018.

A stack of causal self-attention blocks over the user's latest ``max_len`` items (item plus learned
position embeddings); the state at position ``t`` scores the next item by a dot product with the
shared item embeddings. Trained on next-item targets at every position, with one sampled negative
per position and binary cross-entropy (``loss=sequence_bce``), as in the paper.

The block is the variant S3-Rec (K. Zhou et al., CIKM 2020) fine-tunes and reports as SASRec in its
tables: BERT-style post-layer-norm blocks (``LN(x + Dropout(Attn(x)))``, then
``LN(x + Dropout(FFN(x)))``, GELU feed-forward of width ``4 * embedding_size``), layer norm and
dropout on the input embeddings, weights drawn from N(0, 0.02). The paper's own code puts the layer
norm before attention and uses ReLU; on the S3-Rec benchmark the numbers come from this variant.
Attention may read earlier non-padding positions and the position itself (so that a padding
position, whose output is never used, never has an empty softmax).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recframe.models import DatasetInfo
from recframe_sequential.base import SequentialRecommender, positive_int, probability


class SelfAttentionBlock(nn.Module):
    """One post-layer-norm Transformer block: ``float[B, L, d]`` -> ``float[B, L, d]``."""

    def __init__(self, d: int, num_heads: int, dropout: float, attention_dropout: float) -> None:
        super().__init__()
        self.num_heads, self.attention_dropout = num_heads, attention_dropout
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.norm1 = nn.LayerNorm(d, eps=1e-12)
        self.ff_in = nn.Linear(d, 4 * d)
        self.ff_out = nn.Linear(4 * d, d)
        self.norm2 = nn.LayerNorm(d, eps=1e-12)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, allowed: Tensor) -> Tensor:
        """``x: float[B, L, d]``; ``allowed: bool[B, 1, L, L]`` (query, key) pairs attention may use."""
        b, length, d = x.shape
        q, k, v = self.qkv(x).view(b, length, 3, self.num_heads, d // self.num_heads).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed,
                                                  dropout_p=self.attention_dropout if self.training else 0.0)
        x = self.norm1(x + self.dropout(self.out(attended.transpose(1, 2).reshape(b, length, d))))
        return self.norm2(x + self.dropout(self.ff_out(F.gelu(self.ff_in(x)))))


class SASRec(SequentialRecommender):
    """Causal self-attention over item sequences.

    Args:
        embedding_size: hidden size ``d`` of items, positions and every block.
        num_layers: self-attention blocks.
        num_heads: attention heads (``embedding_size`` must be a multiple).
        dropout: dropout on the input embeddings and after attention and feed-forward.
        attention_dropout: dropout on the attention weights (``None``: ``dropout``).
        max_len: positions read (the latest ``max_len`` items of a sequence).
    """

    def __init__(self, info: DatasetInfo, embedding_size: int = 64, num_layers: int = 2, num_heads: int = 2,
                 dropout: float = 0.5, attention_dropout: float | None = None, max_len: int = 50) -> None:
        super().__init__(info, embedding_size, max_len)
        num_layers, num_heads = positive_int("num_layers", num_layers), positive_int("num_heads", num_heads)
        if self.embedding_size % num_heads:
            raise ValueError(f"model.embedding_size ({self.embedding_size}) must be a multiple of model.num_heads "
                             f"({num_heads})")
        dropout = probability("dropout", dropout)
        attention_dropout = dropout if attention_dropout is None else probability("attention_dropout",
                                                                                  attention_dropout)
        self.num_layers, self.num_heads = num_layers, num_heads
        self.position_embedding = nn.Embedding(self.max_len, self.embedding_size)
        self.input_norm = nn.LayerNorm(self.embedding_size, eps=1e-12)
        self.input_dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(SelfAttentionBlock(self.embedding_size, num_heads, dropout, attention_dropout)
                                    for _ in range(num_layers))
        self.apply(self._init)
        with torch.no_grad():
            self.item_embedding.weight[self.n_items].zero_()
        self.register_buffer("causal", torch.ones(self.max_len, self.max_len, dtype=torch.bool).tril(),
                             persistent=False)

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def encode(self, seq: Tensor) -> Tensor:
        """``long[B, L]`` (``-1`` left padding, ``L <= max_len``) -> ``float[B, L, d]``."""
        length = seq.shape[1]
        if length > self.max_len:
            raise ValueError(f"sequences of length {length} exceed model.max_len={self.max_len}")
        positions = torch.arange(self.max_len - length, self.max_len, device=seq.device)
        x = self.item_embedding(self.embedding_index(seq)) + self.position_embedding(positions)
        x = self.input_dropout(self.input_norm(x))
        causal = self.causal[-length:, -length:]
        # query t may read key s <= t that is an item, and itself: bool[B, 1, L, L]
        allowed = causal & ((seq >= 0).unsqueeze(1) | torch.eye(length, dtype=torch.bool, device=seq.device))
        allowed = allowed.unsqueeze(1)
        for block in self.blocks:
            x = block(x, allowed)
        return x
