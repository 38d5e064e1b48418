"""Stages ``scaling.memory`` and ``scaling.compute``: a scaling sweep's size checked before it trains.

Both act only on configs with a ``scaling`` block (:mod:`recframe.scaling_budget`):

* ``scaling.memory`` (before ``model``): the parameter memory of the model built on the ``meta``
  device against the limit, so a size that cannot fit stops before a byte of it is allocated;
* ``scaling.compute`` (before ``fit``): the activation memory of a training batch added to it, and,
  under ``scaling.budget.rule=flops``, ``trainer.max_epochs`` set to the epochs the budget pays for.
"""

from __future__ import annotations

import logging

from omegaconf import open_dict

from recframe import scaling_budget as sb
from recframe.factory import build
from recframe.stages.context import RunContext

log = logging.getLogger(__name__)


def memory(ctx: RunContext) -> None:
    """Stop with one line when the model's parameters, gradients and optimiser states cannot fit."""
    block = sb.scaling_block(ctx.cfg)
    if block is None or not block.get("memory_check", True):
        return
    planned = ctx.require("plan").model
    predicted = sb.predicted_parameter_bytes(
        planned.factory, str(ctx.cfg.model.name), planned.params, ctx.require("info")
    )
    if predicted is None:
        log.info(
            "model '%s' cannot be built on the meta device: its parameter memory is checked after the build",
            ctx.cfg.model.name,
        )
        return
    n = predicted[0]
    limit, source = sb.memory_limit(ctx.cfg, block)
    ctx.run_facts["predicted_params"] = n
    sb.check_fits(
        f"model '{ctx.cfg.model.name}' with {n:,} parameters",
        n * sb.bytes_per_parameter(block),
        limit,
        source,
        "drop this size from the sweep or set scaling.memory_limit_gb",
    )


def compute(ctx: RunContext) -> None:
    """Add a batch's activations to the memory check; apply the flops budget rule."""
    block = sb.scaling_block(ctx.cfg)
    model = ctx.require("model")
    if block is None or not model.trainable:
        return
    from recframe.stages.fit import training_stream

    planned = ctx.require("plan").loss
    loss = build(planned.factory, "loss", planned.name, dict(planned.params))
    batches = training_stream(ctx)
    name = str(ctx.cfg.model.name)
    if block.get("memory_check", True):
        from recframe.training.batches import first_training_batch

        first = first_training_batch(batches)  # kept by the stream: the FLOP count reuses it
        activations = sb.activation_bytes(model, loss, first, int(ctx.cfg.trainer.batch_size))
        n = sum(p.numel() for p in model.parameters())
        need = n * sb.bytes_per_parameter(block) + activations
        ctx.run_facts["predicted_train_bytes"] = int(need)
        limit, source = sb.memory_limit(ctx.cfg, block)
        sb.check_fits(
            f"model '{name}' ({n:,} parameters, {activations / sb.GIB:.2f} GiB of activations a batch of "
            f"{int(ctx.cfg.trainer.batch_size)})",
            need,
            limit,
            source,
            "lower trainer.batch_size, drop this size from the sweep or set scaling.memory_limit_gb",
        )
    budget = dict(block.get("budget") or {})
    if str(budget.get("rule", "epochs")) == "flops":
        from recframe.training.flops import training_flops

        per_epoch = training_flops(model, loss, batches, 1)["train_flops_per_epoch"]
        epochs = sb.epochs_for_budget(float(budget["train_flops"]), per_epoch, name)
        with open_dict(ctx.cfg):
            ctx.cfg.trainer.max_epochs = epochs
        ctx.run_facts["budget_epochs"] = epochs
        log.info("flops budget %.3g pays for %d epochs of model '%s'", float(budget["train_flops"]), epochs, name)
