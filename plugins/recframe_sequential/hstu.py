"""HSTU: Hierarchical Sequential Transduction Units.

J. Zhai, L. Liao, X. Liu, Y. Wang, R. Li, X. Cao, L. Gao, Z. Gong, F. Gu, M. He, Y. Lu, Y. Shi.
"Actions Speak Louder than Words: Trillion-Parameter Sequential Transducers for Generative
Recommendations." ICML 2024 (arXiv:2402.17152).

A stack of HSTU layers over the user's latest ``max_len`` items. One layer, for ``x: float[B, L, d]``
(the paper's equations 1-3, with the residual and input layer norm of its released code)::

    U, V, Q, K = split(SiLU(f1(LayerNorm(x))))          # f1: d -> H * (2 dv + 2 dqk)
    A = SiLU(Q K^T + rab) / n, masked to causal real keys  # pointwise aggregated attention, no softmax
    x = x + f2(Dropout(LayerNorm(A V) * U))              # U-gating, f2: H * dv -> d

The attention weights are *not* normalised by a softmax: each key contributes ``SiLU(q.k + rab)``
divided by ``n`` (here ``max_len``), so the intensity of a user's engagement is kept. ``rab`` is a
learned relative attention bias per distance ``i - j`` (shared by the heads); the paper also buckets
time differences, which recframe's sequence batches do not carry, so only the positional part is
built. Item embeddings are scaled by ``sqrt(d)`` and added to learned positions; the output state
and the item embeddings are L2-normalised and their cosine divided by ``temperature`` (the released
ML-1M configs: ``l2_norm``, temperature 0.05), so ranking is by cosine similarity.

The paper trains with a sampled softmax over 128 negatives drawn from the whole catalogue
(``loss=sampled_softmax trainer.num_negatives=128``, the reproduction's setting); ``loss=sequence_ce``
(the full softmax over every item) and ``loss=sequence_bce`` work too.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recframe.api import DatasetInfo
from recframe_sequential.base import SequentialRecommender, dropout, positive_int, probability


class HSTULayer(nn.Module):
    """One HSTU layer over a dense, left-padded batch ``float[B, L, d]``."""

    def __init__(self, d: int, num_heads: int, dqk: int, dv: int, max_len: int, dropout: float) -> None:
        super().__init__()
        self.num_heads, self.dqk, self.dv, self.max_len, self.dropout = num_heads, dqk, dv, max_len, dropout
        self.input_norm = nn.LayerNorm(d, eps=1e-6)
        self.f1 = nn.Linear(d, num_heads * (2 * dv + 2 * dqk))
        self.attention_norm = nn.LayerNorm(num_heads * dv, eps=1e-6)
        self.f2 = nn.Linear(num_heads * dv, d)
        # rab[t]: the bias of a key t positions before the query (t = 0 .. max_len - 1)
        self.relative_bias = nn.Parameter(torch.zeros(max_len))

    def forward(self, x: Tensor, allowed: Tensor, last_only: bool = False) -> Tensor:
        """``x: float[B, L, d]``, ``allowed: float[B, 1, L, L]`` (1: query i reads key j) -> ``float[B, L, d]``.

        With ``last_only`` only the latest position is a query (``-> float[B, 1, d]``): scoring reads
        the last state alone, so the last layer skips the other ``L - 1`` queries (same values).
        The attention weights are built with two ``[B, H, L, L]`` buffers (the bias added into the
        ``QK^T`` product in place, the mask multiplied into the SiLU in place) and the ``1 / n``
        applied to the ``[B, H, L, dv]`` product instead of the ``[B, H, L, L]`` weights.
        """
        b, length, _ = x.shape
        h, dqk, dv = self.num_heads, self.dqk, self.dv
        uvqk = F.silu(self.f1(self.input_norm(x)))
        u, v, q, k = torch.split(uvqk, [h * dv, h * dv, h * dqk, h * dqk], dim=-1)
        if last_only:
            x, u, q, allowed = x[:, -1:], u[:, -1:], q[:, -1:], allowed[:, :, -1:]
        queries = q.shape[1]
        q = q.reshape(b, queries, h, dqk).transpose(1, 2)  # [B, H, Lq, dqk]
        k = k.reshape(b, length, h, dqk).transpose(1, 2)  # [B, H, L, dqk]
        v = v.reshape(b, length, h, dv).transpose(1, 2)  # [B, H, L, dv]
        rows = torch.arange(length - queries, length, device=x.device).view(-1, 1)
        distance = (rows - torch.arange(length, device=x.device)).clamp(0, self.max_len - 1)
        # [Lq, L]: i - j, future keys clamped to 0 (masked anyway)
        scores = (q @ k.transpose(-1, -2)).add_(self.relative_bias[distance])  # [B, H, Lq, L]
        weights = F.silu(scores).mul_(allowed)
        attended = (weights @ v).div_(self.max_len).transpose(1, 2).reshape(b, queries, h * dv)  # [B, Lq, H * dv]
        gated = self.attention_norm(attended) * u
        return x + self.f2(dropout(gated, self.dropout, self.training))


class HSTU(SequentialRecommender):
    """Generative sequential recommender built of HSTU layers (pointwise SiLU attention, U-gating).

    Args:
        embedding_dim: item and position embedding size ``d`` (the paper's ML-1M configs: 50).
        num_layers: HSTU layers (2 for "HSTU", 8 for "HSTU-large" on ML-1M).
        num_heads: attention heads (1 / 2).
        dqk: query and key size per head (50 / 25).
        dv: value and gate size per head (50 / 25).
        dropout: dropout on the input embeddings and on each layer's gated output (0.2).
        temperature: the cosine scores are divided by it (0.05).
        max_len: positions read (200 on ML-1M).
    """

    def __init__(
        self,
        info: DatasetInfo,
        embedding_dim: int = 50,
        num_layers: int = 2,
        num_heads: int = 1,
        dqk: int = 50,
        dv: int = 50,
        dropout: float = 0.2,
        temperature: float = 0.05,
        max_len: int = 200,
    ) -> None:
        super().__init__(info, embedding_dim, max_len)
        self.num_layers = positive_int("num_layers", num_layers)
        self.num_heads = positive_int("num_heads", num_heads)
        self.dqk, self.dv = positive_int("dqk", dqk), positive_int("dv", dv)
        self.dropout = probability("dropout", dropout)
        if not float(temperature) > 0:
            raise ValueError(f"model.temperature must be > 0, got {temperature!r}")
        self.temperature = float(temperature)
        self.position_embedding = nn.Embedding(self.max_len, self.embedding_dim)
        self.layers = nn.ModuleList(
            HSTULayer(self.embedding_dim, self.num_heads, self.dqk, self.dv, self.max_len, self.dropout)
            for _ in range(self.num_layers)
        )
        self.apply(self._init)
        with torch.no_grad():
            self.item_embedding.weight[self.n_items].zero_()

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)

    def encode(self, seq: Tensor, last_only: bool = False) -> Tensor:
        """``long[B, L]`` (``-1`` left padding, ``L <= max_len``) -> ``float[B, L, d]``: unit-length states
        divided by ``sqrt(temperature)`` (zeros at padding); with ``last_only``, ``float[B, 1, d]``: the
        latest position's state alone (the last layer computes no other query).

        Positions are counted from the right (the latest item is position ``max_len - 1``).
        """
        b, length = seq.shape
        if length > self.max_len:
            raise ValueError(f"sequences of length {length} exceed model.max_len={self.max_len}")
        real = seq >= 0  # [B, L]
        positions = torch.arange(self.max_len - length, self.max_len, device=seq.device)
        h = self.item_embedding(self.embedding_index(seq)) * self.embedding_dim**0.5 + self.position_embedding(
            positions
        )
        h = dropout(h, self.dropout, self.training) * real.unsqueeze(-1)
        causal = torch.ones(length, length, dtype=torch.bool, device=seq.device).tril()
        allowed = (causal & real.unsqueeze(1)).unsqueeze(1).to(h.dtype)  # [B, 1, L, L]: query i reads real keys j <= i
        for i, layer in enumerate(self.layers):
            h = layer(h, allowed, last_only=last_only and i == len(self.layers) - 1)
        real = real[:, -h.shape[1] :]
        return F.normalize(h, dim=-1, eps=1e-6) * real.unsqueeze(-1) * self.temperature**-0.5

    def user_state(self, users: Tensor) -> Tensor:
        """``long[B] -> float[B, d]``: the state after each user's latest history item (only that query
        is computed in the last layer)."""
        if self._history_source is None:
            return super().user_state(users)  # the base class's one-line error
        return self.encode(self.history[users], last_only=True)[:, -1, :]

    def item_vectors(self, items: Tensor) -> Tensor:
        """``long[...] -> float[..., d]``: unit-length item embeddings divided by ``sqrt(temperature)``."""
        return F.normalize(self.item_embedding(items), dim=-1, eps=1e-6) * self.temperature**-0.5

    def item_weights(self) -> Tensor:
        """``float[n_items, d]``: the real items' vectors (state . item = cosine / temperature)."""
        return self.item_vectors(torch.arange(self.n_items, device=self.item_embedding.weight.device))

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        """``long[B], long[B] -> float[B]``: cosine of state and item over the temperature."""
        return (self.user_state(users) * self.item_vectors(items)).sum(-1)

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """As :meth:`SequentialRecommender.forward`, with the normalised item vectors.

        The item table is normalised once (``[n_items, d]``) and its rows gathered, rather than
        normalising ``[N, n, d]`` gathered rows; the ``N`` states against their ``n`` negatives are one
        batched product ``[N, n, d] x [N, d, 1]``. With 128 negatives a position (the sampled
        softmax's setting) the element-wise form's ``[N, 128, d]`` temporaries made the loss step
        about 1.3 times slower on a CPU (docs/scaling.md).
        """
        hidden = self.encode(batch["seq"])
        mask = batch["pos_item"] >= 0
        states, target = hidden[mask], batch["pos_item"][mask]
        table = self.item_weights()
        negatives = table[batch["neg_item"][mask]]  # [N, n, d]
        return {
            "pos_score": (states * table[target]).sum(-1),
            "neg_score": torch.bmm(negatives, states.unsqueeze(-1)).squeeze(-1),
            "hidden": states,
            "target_item": target,
        }

    def training_flops(self, batch: dict[str, Tensor], all_scores: bool) -> int:
        """Matrix-multiply FLOPs of one training step on ``batch`` (forward and backward), analytically.

        Per layer, over the dense ``[B, L]`` layout: ``f1`` (``2 B L d * H(2dv + 2dqk)``), ``QK^T``
        (``2 B H L^2 dqk``), ``AV`` (``2 B H L^2 dv``), ``f2`` (``2 B L H dv * d``); the ``N`` target
        states against their ``n`` negatives (``2 N d n``, a batched product); with ``all_scores`` the
        states against every item (``2 N d n_items``), and then the negatives' product is forward only,
        since the full-softmax loss does not read it and no gradient flows back through it. The
        backward pass computes two products of the same size per product (the input's and the
        weight's gradient), so a step is three times the forward. Embedding look-ups, norms and
        element-wise work are not counted (as ``torch.utils.flop_counter.FlopCounterMode`` does not
        count them).
        """
        b, length = batch["seq"].shape
        d, h, dqk, dv = self.embedding_dim, self.num_heads, self.dqk, self.dv
        per_layer = 2 * b * length * d * h * (2 * dv + 2 * dqk) + 2 * b * h * length * length * (dqk + dv)
        per_layer += 2 * b * length * h * dv * d
        forward = self.num_layers * per_layer
        targets = int((batch["pos_item"] >= 0).sum())
        negatives = 2 * targets * d * batch["neg_item"].shape[-1]
        if all_scores:
            return 3 * (forward + 2 * targets * d * self.n_items) + negatives
        return 3 * (forward + negatives)
