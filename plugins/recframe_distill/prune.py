"""Pruning of embedding tables and MLP layers, with an optional fine-tuning budget.

* ``method: magnitude``: unstructured L1-magnitude pruning (S. Han, J. Pool, J. Tran, W. Dally,
  "Learning both Weights and Connections for Efficient Neural Networks", NeurIPS 2015), per tensor
  (``scope: layer``) or over all pruned tensors at once (``scope: global``).
* ``method: structured``: L2-norm structured pruning (H. Li et al., "Pruning Filters for Efficient
  ConvNets", ICLR 2017): whole embedding dimensions (columns) of each table, whole output neurons
  (rows) of each linear layer.

Masks come from ``torch.nn.utils.prune``; with ``finetune_epochs > 0`` the masked model is trained
with the run's loss (pruned weights stay zero), then the masks are made permanent. The reported
sparsity is counted on the final tensors, and the size counts each pruned tensor in the smallest of
dense, CSR, or dense without its all-zero rows/columns (see ``recframe.compression.tensor_storage``).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

from torch import nn
from torch.nn.utils import prune

from recframe.api import CompressionContext, Compressor, Measured, unwrap
from recframe.api import Recommender

TARGETS = {"embedding": nn.Embedding, "linear": nn.Linear}


class Prune(Compressor):
    """Prune ``amount`` of the weights of the ``targets`` layers (``embedding``, ``linear``)."""

    name = "prune"

    def __init__(
        self,
        amount: float = 0.5,
        method: str = "magnitude",
        scope: str = "layer",
        targets: Sequence[str] = ("embedding", "linear"),
        finetune_epochs: int = 0,
        lr: float | None = None,
    ) -> None:
        super().__init__()
        if not 0.0 <= float(amount) < 1.0:
            raise ValueError(f"amount must be in [0, 1), got {amount}")
        if method not in ("magnitude", "structured"):
            raise ValueError(f"method must be 'magnitude' or 'structured', got {method!r}")
        if scope not in ("layer", "global"):
            raise ValueError(f"scope must be 'layer' or 'global', got {scope!r}")
        unknown = [t for t in targets if t not in TARGETS]
        if unknown:
            raise ValueError(f"targets {unknown} are not among {list(TARGETS)}")
        self.amount, self.method, self.scope = float(amount), method, scope
        self.targets, self.finetune_epochs, self.lr = tuple(targets), int(finetune_epochs), lr

    def layers(self, model: nn.Module) -> list[tuple[str, nn.Module]]:
        kinds = tuple(TARGETS[t] for t in self.targets)
        return [(name, m) for name, m in model.named_modules() if isinstance(m, kinds)]

    def compress(self, model: Recommender, context: CompressionContext | None = None) -> Recommender:
        model = copy.deepcopy(unwrap(model))
        layers = self.layers(model)
        if self.method == "magnitude" and self.scope == "global":
            prune.global_unstructured(
                [(m, "weight") for _, m in layers], pruning_method=prune.L1Unstructured, amount=self.amount
            )
        else:
            for _, m in layers:
                if self.method == "magnitude":
                    prune.l1_unstructured(m, "weight", amount=self.amount)
                else:  # embedding: columns (dimensions); linear: rows (output neurons)
                    prune.ln_structured(
                        m, "weight", amount=self.amount, n=2, dim=1 if isinstance(m, nn.Embedding) else 0
                    )
        if self.finetune_epochs and context is not None and model.trainable:
            trainer = {"max_epochs": self.finetune_epochs, **({"lr": self.lr} if self.lr else {})}
            self.facts["finetune"] = context.train(model, context.build_loss(), trainer, tag="finetune")
        zeros = total = 0
        per_layer = {}
        for name, m in layers:
            prune.remove(m, "weight")
            m._recframe_sparse = True
            z, n = int((m.weight == 0).sum()), m.weight.numel()
            zeros, total = zeros + z, total + n
            per_layer[name] = round(z / n, 6)
        self.facts.update(
            {
                "method": self.method,
                "scope": self.scope,
                "requested": self.amount,
                "sparsity": round(zeros / total, 6) if total else 0.0,
                "per_layer": per_layer,
            }
        )
        return Measured(model.eval())

    def rebuild(self, model: Recommender, context: CompressionContext | None = None) -> Recommender:
        """The pruned structure is the model's own (masks made permanent): a copy, its pruned layers
        marked sparse for the size count; the saved weights (zeros included) are loaded over it."""
        model = copy.deepcopy(unwrap(model))
        for _, m in self.layers(model):
            m._recframe_sparse = True
        return Measured(model.eval())
