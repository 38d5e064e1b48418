"""Low-rank factorisation of embedding tables by truncated SVD.

``W ~= U_r S_r V_r^T`` (Eckart-Young: the best rank-``r`` approximation in Frobenius norm). Each table
``[n, d]`` is replaced by two factors ``[n, r]`` (``U_r S_r``) and ``[r, d]`` (``V_r^T``), storing
``r (n + d)`` numbers instead of ``n d``; a lookup is ``A[i] @ B``. As in compressing embedding layers by
SVD, e.g. P. H. Chen et al., "GroupReduce: Block-Wise Low-Rank Approximation for Neural Language Model
Shrinking", NeurIPS 2018 (here one block per table).
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from recframe.api import CompressionContext, Compressor, Measured, replace_module, unwrap
from recframe.api import Recommender


class LowRankEmbedding(nn.Module):
    """``weight = left @ right`` with ``left: [n, r]``, ``right: [r, d]``."""

    def __init__(self, weight: Tensor, rank: int) -> None:
        super().__init__()
        u, s, vh = torch.linalg.svd(weight.detach().float(), full_matrices=False)
        r = min(int(rank), len(s))
        self.left = nn.Parameter(u[:, :r] * s[:r])
        self.right = nn.Parameter(vh[:r].clone())
        self.num_embeddings, self.embedding_dim = weight.shape
        self.rank = r

    @property
    def weight(self) -> Tensor:
        return self.left @ self.right

    def forward(self, index: Tensor) -> Tensor:
        return self.left[index] @ self.right


class LowRank(Compressor):
    """Replace every embedding table wider than ``rank`` by its rank-``rank`` truncated SVD.

    ``finetune_epochs > 0`` then trains the factors with the run's loss (0: no training).
    """

    name = "lowrank"

    def __init__(self, rank: int = 16, finetune_epochs: int = 0, lr: float | None = None) -> None:
        super().__init__()
        if int(rank) < 1:
            raise ValueError(f"rank must be >= 1, got {rank}")
        self.rank, self.finetune_epochs, self.lr = int(rank), int(finetune_epochs), lr

    def compress(self, model: Recommender, context: CompressionContext | None = None) -> Recommender:
        model = copy.deepcopy(unwrap(model))
        tables = {}
        for name, module in list(model.named_modules()):
            if isinstance(module, nn.Embedding) and module.embedding_dim > self.rank:
                replace_module(model, name, LowRankEmbedding(module.weight, self.rank))
                tables[name] = [module.num_embeddings, module.embedding_dim]
        self.facts = {"rank": self.rank, "tables": tables}
        if self.finetune_epochs and context is not None and model.trainable:
            trainer = {"max_epochs": self.finetune_epochs, **({"lr": self.lr} if self.lr else {})}
            self.facts["finetune"] = context.train(model, context.build_loss(), trainer, tag="finetune")
        return Measured(model.eval())

    def rebuild(self, model: Recommender, context: CompressionContext | None = None) -> Recommender:
        """The factored structure (the same tables replaced at the same rank), without fine-tuning; the
        saved factors are loaded over it."""
        model = copy.deepcopy(unwrap(model))
        for name, module in list(model.named_modules()):
            if isinstance(module, nn.Embedding) and module.embedding_dim > self.rank:
                replace_module(model, name, LowRankEmbedding(module.weight, self.rank))
        return Measured(model.eval())
