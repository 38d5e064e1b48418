"""Training FLOPs of a run: the cost of one training step, times the steps taken.

A step's FLOPs come from the model's own ``training_flops(batch, all_scores)`` when it defines one
(an analytic count, e.g. HSTU's), else from ``torch.utils.flop_counter.FlopCounterMode`` around one
forward pass, loss and backward pass of the first training batch. Both count matrix products only
(linear layers, batched products, convolutions, attention kernels): what dominates a step and what
"training compute" means in scaling studies (Kaplan et al. 2020's ``6 N`` per token is the same
count). Work done by compiled numba kernels is invisible to the counter, so models using them
(BPR-MF's ``dot_scores``) give an analytic count.

The total is the step's FLOPs per training row times the rows of an epoch times the epochs run
(``rows_per_epoch * epochs``; the first batch stands for the epoch's batches, which differ only in
the mix of rows, and for a sequence model in padding).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import torch
from torch import nn

if TYPE_CHECKING:
    from recframe.models import Recommender


def batch_rows(batch: dict[str, torch.Tensor]) -> int:
    """The training rows of a batch (its ``user`` entries, else the first tensor's length)."""
    if "user" in batch:
        return len(batch["user"])
    return len(next(iter(batch.values())))


def measured_step_flops(model: nn.Module, loss: nn.Module, batch: dict[str, torch.Tensor]) -> int:
    """FLOPs that ``FlopCounterMode`` counts for one forward, loss and backward on ``batch``.

    The gradients this leaves are cleared, and the model's train/eval mode is restored.
    """
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.train()
    counter = FlopCounterMode(display=False)
    try:
        with counter:
            outputs = model(batch)
            if getattr(loss, "needs_all_scores", False):
                outputs["all_scores"] = cast("Recommender", model).training_all_scores(outputs, batch)
            value = loss(outputs, batch)
            if "regularization" in outputs:
                value = value + outputs["regularization"]
            value.backward()
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    return int(counter.get_total_flops())


def step_flops(model: Any, loss: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[int, str]:
    """``(FLOPs of one training step on batch, "analytic" | "flop_counter")``."""
    analytic = model.training_flops(batch, bool(getattr(loss, "needs_all_scores", False)))
    if analytic is not None:
        return int(analytic), "analytic"
    return measured_step_flops(model, loss, batch), "flop_counter"


def training_flops(model: Any, loss: nn.Module, batches: Any, epochs: int) -> dict[str, Any]:
    """``{"train_flops", "train_flops_per_epoch", "flops_method"}`` of ``epochs`` epochs of ``batches``.

    ``batches`` is the run's training stream (an ``EpochBatches``); its first batch of epoch 0 is
    counted: the one the fit drew, kept by the stream (``first_batch``), so counting after a fit
    draws no second epoch. The model stays on its device; the batch is moved there.
    """
    from recframe.training.batches import first_training_batch

    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    first = first_training_batch(batches)
    batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in first.items()}
    per_step, method = step_flops(model, loss, batch)
    per_epoch = round(per_step / max(batch_rows(batch), 1) * batches.n_rows)
    return {
        "train_flops": int(per_epoch * max(int(epochs), 0)),
        "train_flops_per_epoch": int(per_epoch),
        "flops_method": method,
    }
