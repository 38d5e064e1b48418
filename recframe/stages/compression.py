"""Stages ``compression.source`` and ``compression``: everything ``cfg.compressor`` changes in a run.

* ``source`` (first in the stage list): with ``compressor.from_run``, the run takes the saved run's
  config (data, protocol, model) and replaces training by loading its best checkpoint; the cost's
  ``fit_seconds`` is then the saved run's.
* ``compression`` (after the results): each compressor stage's model is evaluated with the run's
  evaluator and targets, one row per stage under ``results["compressed"]`` (docs/compression.md).

No other stage knows about compression.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from recframe import compression as chain
from recframe.stages.context import RunContext


def source(ctx: RunContext) -> None:
    """``compressor.from_run``: adopt the saved run's config and load its weights instead of training."""
    path = chain.source_run(ctx.cfg)
    if path is None:
        return
    ctx.cfg = chain.source_config(ctx.cfg, path)

    def load_saved(run: RunContext) -> dict[str, Any]:
        return adopt_trained(run, path)

    ctx.fitter = load_saved


def adopt_trained(ctx: RunContext, path: Path) -> dict[str, Any]:
    """Load the saved run's weights into the built model; its fit time becomes this run's."""
    facts = chain.load_trained(ctx.require("model"), path, ctx.require("split").train)
    if facts.get("source_fit_seconds") is not None:
        ctx.cost_overrides["fit_seconds"] = facts["source_fit_seconds"]
    return facts


def compress(ctx: RunContext) -> None:
    """Run the compressor chain on the fitted model; rows go under ``ctx.results["compressed"]``."""
    stages = chain.stage_specs(ctx.cfg)
    if not stages:
        return
    context = chain.CompressionContext(
        ctx.cfg, ctx.run_dir, ctx.split, ctx.info, ctx.evaluator, ctx.targets, ctx.require("seeds").sampler
    )
    ctx.results["compressed"] = chain.run_chain(
        stages, ctx.require("model"), context, ctx.results, chain.chained(ctx.cfg)
    )
    from recframe.serving.stages import save_stages

    save_stages(ctx.run_dir, context.stage_models, ctx.targets["test"].users)
