"""Stage ``flops``: the training FLOPs of the run, stored under ``results.json`` ``cost``.

Counted by :mod:`recframe.training.flops` (the model's analytic count or torch's FLOP counter on
one training step, times the rows of the epochs run), for gradient-trained models; closed-form
models and runs whose weights came from a saved run (``compressor.from_run``) get ``train_flops``
``None`` (nothing was trained here, or the count is not a matrix-product count).
"""

from __future__ import annotations

import logging

from torch import nn

from recframe.factory import build
from recframe.stages.context import RunContext

log = logging.getLogger(__name__)


def non_embedding_params(model: nn.Module) -> int:
    """Parameters outside ``nn.Embedding`` tables (the count scaling laws are usually stated in)."""
    embedded = {id(p) for m in model.modules() if isinstance(m, nn.Embedding) for p in m.parameters()}
    return sum(p.numel() for p in model.parameters() if id(p) not in embedded)


def flops(ctx: RunContext) -> None:
    """Fill ``ctx.cost_overrides``: ``train_flops`` (with the per-epoch count and method), ``non_embedding_params``."""
    model = ctx.require("model")
    ctx.cost_overrides["non_embedding_params"] = non_embedding_params(model)
    epochs = ctx.fit_facts.get("epochs")
    if not model.trainable or ctx.fitter is not None or epochs is None:
        ctx.cost_overrides.setdefault("train_flops", None)
        return
    from recframe.stages.fit import training_stream
    from recframe.training.flops import training_flops

    planned = ctx.require("plan").loss
    loss = build(planned.factory, "loss", planned.name, dict(planned.params))
    batches = training_stream(ctx)
    try:
        ctx.cost_overrides.update(training_flops(model, loss, batches, int(epochs)))
    except Exception as exc:  # a counting failure must not lose a finished training run's results
        log.warning("training FLOPs not counted for model '%s': %s", ctx.cfg.model.name, exc)
        ctx.cost_overrides.update({"train_flops": None, "flops_method": f"unavailable: {type(exc).__name__}"})
