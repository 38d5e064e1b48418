"""Stage ``fit``: train the model (Lightning) or fit it in closed form, timed.

A stage placed before this one may replace the fitter (``ctx.fitter``): ``compressor.from_run``
loads a saved run's weights instead of training.
"""

from __future__ import annotations

import time
from typing import Any

from recframe.factory import build
from recframe.stages.context import RunContext


def training_stream(ctx: RunContext) -> Any:
    """The run's training batch stream, built once and kept on the context: the protocol's when it
    fixes one (``ctx.train_batches``), else the one the model's ``batch_kind`` asks for. The budget
    check, the fit and the FLOP count all read this one stream instead of each building its own
    (with its own negative sampler over every training interaction)."""
    if ctx.train_batches is None:
        from recframe.training.fit import training_batches

        ctx.train_batches = training_batches(
            ctx.require("model"), ctx.require("split").train, ctx.cfg.trainer, ctx.require("seeds").sampler
        )
    return ctx.train_batches


def train_with_lightning(ctx: RunContext) -> dict[str, Any]:
    """Gradient training with validation by the run's evaluator; the best checkpoint is loaded back."""
    from recframe.training.fit import fit_torch_model

    planned = ctx.require("plan").loss
    loss = build(planned.factory, "loss", planned.name, dict(planned.params))
    return fit_torch_model(
        ctx.cfg,
        ctx.run_dir,
        ctx.model,
        loss,
        ctx.split,
        ctx.evaluator,
        ctx.targets["valid"],
        ctx.require("seeds").sampler,
        training_stream(ctx),
    )


def fit_closed_form(ctx: RunContext) -> dict[str, Any]:
    """``model.fit(train)`` for models without an optimiser."""
    ctx.require("model").fit(ctx.require("split").train)
    return {}


def fit(ctx: RunContext) -> None:
    """Fill ``ctx.fit_facts`` and ``ctx.fit_seconds``."""
    fitter = ctx.fitter or (train_with_lightning if ctx.require("model").trainable else fit_closed_form)
    start = time.perf_counter()
    ctx.fit_facts = fitter(ctx)
    ctx.fit_seconds = time.perf_counter() - start
    from recframe.training.devices import eval_device, place_for_evaluation

    ctx.fit_facts["eval_device"] = place_for_evaluation(
        ctx.model, ctx.evaluator, eval_device(ctx.cfg.trainer, ctx.fit_facts.get("train_device"))
    )
