"""Evaluation modes (``protocol.ranking``) as a table of strategies.

Each :class:`EvaluationMode` builds the evaluator and the valid/test targets for the run's
metrics; a mode may also impose the training stream (labelled records under ``none``). Adding a
mode is one entry in :data:`MODES`.

* ``full``: every item ranked for every user, seen items masked (:mod:`recframe.evaluation.ranking`);
* ``sampled``: the held-out items ranked among fixed or seeded candidates (:mod:`recframe.evaluation.sampled`);
* ``none``: labelled valid/test records scored once by pointwise metrics (:mod:`recframe.evaluation.labeled`).

Under ``full`` and ``sampled``, pointwise metrics (RMSE, MAE...) are computed beside the ranking on
the part's labelled pairs (``ctx.extra_metrics``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from recframe.data.split import Split
from recframe.errors import ConfigError
from recframe.stages.context import RunContext


@dataclass(frozen=True)
class EvaluationMode:
    """``setup(ctx, ranking_metrics, pointwise_metrics)`` fills ``ctx.evaluator``, ``ctx.targets``,
    ``ctx.extra_metrics`` and, if the mode imposes one, ``ctx.train_batches``."""

    name: str
    setup: Callable[[RunContext, dict[str, Any], dict[str, Any]], None]


def ranking_targets(split: Split, filter_seen: bool) -> dict[str, Any]:
    """Full-ranking targets of valid and test: relevant items, the items to mask, the history before."""
    from recframe.evaluation.ranking import RankingTarget

    return {
        part: RankingTarget(
            split.part(part).to_csr(), split.seen_before(part) if filter_seen else None, split.history(part)
        )
        for part in ("valid", "test")
    }


def _full(ctx: RunContext, metrics: dict[str, Any], pointwise: dict[str, Any]) -> None:
    from recframe.evaluation.ranking import RankingEvaluator

    ctx.evaluator = RankingEvaluator(
        metrics, batch_users=int(ctx.cfg.trainer.eval_batch_users), ties=str(ctx.protocol.get("ties", "torch.topk"))
    )
    ctx.targets = ranking_targets(ctx.require("split"), bool(ctx.protocol.get("filter_seen", True)))
    ctx.extra_metrics = pointwise


def _sampled(ctx: RunContext, metrics: dict[str, Any], pointwise: dict[str, Any]) -> None:
    from recframe.evaluation.sampled import sampled_evaluation

    ctx.evaluator, ctx.targets = sampled_evaluation(
        ctx.protocol,
        ctx.require("split"),
        metrics,
        int(ctx.cfg.trainer.eval_batch_users),
        ctx.require("seeds").candidates,
        ctx.run_dir,
    )
    ctx.extra_metrics = pointwise


def _labelled(ctx: RunContext, metrics: dict[str, Any], pointwise: dict[str, Any]) -> None:
    from recframe.evaluation.labeled import labeled_evaluation
    from recframe.training.batches import LabeledBatches

    split = ctx.require("split")
    ctx.evaluator, ctx.targets = labeled_evaluation(split, {**metrics, **pointwise}, ctx.features)
    ctx.extra_metrics = {}
    context = None if ctx.features is None else ctx.features.context(split.train)
    ctx.train_batches = LabeledBatches(
        split.train, int(ctx.cfg.trainer.batch_size), ctx.require("seeds").sampler, context
    )


MODES: dict[str, EvaluationMode] = {
    mode.name: mode
    for mode in (
        EvaluationMode("full", _full),
        EvaluationMode("sampled", _sampled),
        EvaluationMode("none", _labelled),
    )
}


def evaluation_mode(protocol: dict[str, Any]) -> EvaluationMode:
    """The mode ``protocol.ranking`` names (default ``full``); anything else is a one-line error."""
    ranking = protocol.get("ranking", "full")
    if ranking not in MODES:
        names = list(MODES)
        raise ConfigError(
            f"protocol.ranking must be {', '.join(repr(n) for n in names[:-1])} or {names[-1]!r}, got {ranking!r}"
        )
    return MODES[ranking]
