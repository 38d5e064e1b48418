"""DCN-V2 (R. Wang, R. Shivanna, D. Cheng, S. Jain, D. Lin, L. Hong, E. Chi, *DCN V2: Improved Deep &
Cross Network and Practical Lessons for Web-scale Learning to Rank Systems*, WWW 2021,
doi 10.1145/3442381.3450078).

The cross network applies ``x_{l+1} = x_0 * (W_l x_l + b_l) + x_l`` (``*`` elementwise, ``W_l`` a
full ``[F d, F d]`` matrix) to the concatenated field embeddings ``x_0 = [v_1; ...; v_F]``. The
deep network is ``num_layers`` ReLU layers (batch norm, dropout). ``structure: parallel`` feeds
``[x_L; deep(x_0)]`` to the output unit; ``stacked`` feeds ``deep(x_L)``. ``reg_weight`` adds
``reg_weight * sum_l ||W_l||_F`` to the loss, as RecBole's implementation does.
"""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import Tensor, nn

from recframe.api import DatasetInfo
from recframe_context.fields import ContextRecommender, mlp, mlp_on_pairs, splittable
from recframe_context.pairs import Buffers, fold_tower, run_steps, score_blocks, sum_block, tracks_grad


class CrossNetwork(nn.Module):
    """``num_cross_layers`` full-rank cross layers: ``float[B, D] -> float[B, D]``."""

    def __init__(self, dim: int, num_cross_layers: int) -> None:
        super().__init__()
        if num_cross_layers < 1:
            raise ValueError(f"num_cross_layers must be >= 1, got {num_cross_layers}")
        self.layers = nn.ModuleList(nn.Linear(dim, dim) for _ in range(num_cross_layers))

    def forward(self, x0: Tensor) -> Tensor:
        x = x0
        for layer in self.layers:
            x = x0 * layer(x) + x
        return x


class DCNv2(ContextRecommender):
    """Cross network and deep network over the concatenated field embeddings.

    Args:
        info: the training data and its feature tables.
        embedding_dim: ``d``, the size of every field vector.
        num_layers, hidden_size: depth and width of the deep part.
        num_cross_layers: depth of the cross network.
        structure: ``parallel`` or ``stacked``.
        dropout: dropout after every hidden layer.
        reg_weight: weight of the cross matrices' Frobenius norms in the loss.
        rank_context: the context used for ranking (see ``fields.py``).
    """

    param_aliases = {"embedding_size": "embedding_dim"}  # deprecated config names, still accepted

    def __init__(
        self,
        info: DatasetInfo,
        embedding_dim: int = 16,
        num_layers: int = 2,
        hidden_size: int = 256,
        num_cross_layers: int = 2,
        structure: str = "parallel",
        dropout: float = 0.2,
        reg_weight: float = 0.0,
        rank_context: Any = "last",
    ) -> None:
        super().__init__(info, embedding_dim, rank_context)
        if structure not in ("parallel", "stacked"):
            raise ValueError(f"structure must be 'parallel' or 'stacked', got {structure!r}")
        if reg_weight < 0:
            raise ValueError(f"reg_weight must be >= 0, got {reg_weight}")
        dim = self.n_fields * embedding_dim
        self.structure, self.reg_weight = structure, float(reg_weight)
        self.cross = CrossNetwork(dim, num_cross_layers)
        self.deep = mlp(dim, hidden_size, num_layers, dropout, batch_norm=True)
        self.out = nn.Linear(dim + hidden_size if structure == "parallel" else hidden_size, 1)
        self.init_weights()

    def combine(self, v: Tensor, linear: Tensor | None) -> Tensor:
        """``v: float[N, F, d] -> float[N]`` (no first-order term)."""
        x0 = v.flatten(1)  # [N, F d]
        if self.structure == "parallel":
            h = torch.cat([self.cross(x0), self.deep(x0)], dim=1)
        else:
            h = self.deep(self.cross(x0))
        return self.out(h).squeeze(-1)

    def score_sides(self, vq: Tensor, vi: Tensor, lq: Tensor | None, li: Tensor | None) -> Tensor | None:
        """``float[B, n_items]`` with the first cross layer's product and (parallel) the deep part's first
        layer split by side.

        ``x_1 = x_0 * (W_0 (x_q + x_i) + b_0) + x_0``: ``W_0 x_q + b_0`` once per query and ``W_0 x_i``
        once per item, so a pair costs elementwise work only; later cross layers (and, stacked, the
        deep part on ``x_L``, batch norm folded) are per pair, on cache-sized blocks (``pairs.py``).
        Under ``parallel`` the output unit is split by input columns: ``w_c . x_L + w_d . deep(x_0) + b``.
        """
        # plain nn.Linear layers, as splittable() checks below (when they are not, None: pair by pair)
        layers = cast(list[nn.Linear], list(self.cross.layers))
        first = cast(nn.Linear, self.deep[0])
        if not splittable(*layers, first, self.out) or tracks_grad(vq, vi, self.out.weight):
            return None  # pair by pair (differentiable)
        parallel = self.structure == "parallel"
        deep_steps: list[tuple[Tensor, Tensor]] = []
        if not parallel:
            folded = fold_tower(list(self.deep)[1:])
            if folded is None:
                return None
            affine, deep_steps = folded
            weight_t: Tensor = first.weight.T
            bias: Tensor = first.bias
            if affine is not None:
                weight_t, bias = weight_t * affine[0], bias * affine[0] + affine[1]
            deep_steps = [(weight_t.contiguous(), bias), *deep_steps]
        xq, xi = vq.flatten(1).contiguous(), vi.flatten(1).contiguous()  # [B, D], [n_items, D]
        dim = xi.shape[1]
        pq, pi = xq @ layers[0].weight.T + layers[0].bias, xi @ layers[0].weight.T  # [B, D], [n_items, D]
        later = [(layer.weight.T.contiguous(), layer.bias) for layer in layers[1:]]
        head = self.out.weight[0]

        def block(qs: slice, its: slice, buffers: Buffers) -> Tensor:
            n = (qs.stop - qs.start) * (its.stop - its.start)
            x0 = sum_block(xq, xi, qs, its, buffers.get("x0", n, dim))
            cross = sum_block(pq, pi, qs, its, buffers.get("cross", n, dim))
            x = torch.addcmul(x0, x0, cross, out=buffers.get("x", n, dim))
            for weight_t, bias in later:
                torch.mm(x, weight_t, out=cross)
                x.addcmul_(x0, cross.add_(bias))
            return x @ head[:dim] if parallel else run_steps(x, deep_steps, buffers) @ head

        out = score_blocks(len(xq), len(xi), xq, block)
        if parallel:
            out += mlp_on_pairs(self.deep, xq @ first.weight.T + first.bias, xi @ first.weight.T, head[dim:])
        return out + self.out.bias

    def regularization(self) -> Tensor | None:
        if not self.reg_weight:
            return None
        return self.reg_weight * sum(layer.weight.norm(2) for layer in self.cross.layers)
