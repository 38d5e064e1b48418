"""Stage ``evaluation``: the run's metrics and the evaluator of its evaluation mode.

Metrics are built here for every stage that evaluates (validation during the fit, the final
evaluation, every compressed stage). Each metric class says what it needs in ``requires``
(:data:`recframe.evaluation.metrics.METRIC_INPUTS`), is built once per cut-off when its family takes
one (``topk``, ``list``), and writes its results under the name it was registered with.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from recframe.errors import ConfigError
from recframe.models import DatasetInfo
from recframe.plan import Planned
from recframe.stages.context import RunContext
from recframe.stages.modes import evaluation_mode


def metric_inputs(info: DatasetInfo) -> dict[str, Any]:
    """Everything a metric may require, from the training data (see ``METRIC_INPUTS``)."""
    return {
        "train": info.train,
        "item_popularity": info.item_popularity,
        "n_users": info.n_users,
        "n_items": info.n_items,
    }


def build_metrics(
    cfg: DictConfig, info: DatasetInfo | None = None, planned_metrics: tuple[Planned, ...] | None = None
) -> dict[str, Any]:
    """Metric instances by result key (``ndcg@10``, ``auc``): one per cut-off for ``topk``/``list``
    metrics, one for the others; each given the inputs its ``requires`` names. ``planned_metrics``
    (from the plan check) saves resolving ``metrics.names`` again."""
    from recframe.evaluation.metrics import CUTOFF_FAMILIES
    from recframe.plan import plan_metrics

    available = metric_inputs(info) if info is not None else {}
    metrics: dict[str, Any] = {}
    for planned in planned_metrics if planned_metrics is not None else plan_metrics(cfg):
        cls = planned.factory
        requires = tuple(getattr(cls, "requires", ()))
        missing = [r for r in requires if r not in available]
        if missing:
            raise ConfigError(
                f"metric '{planned.name}' needs the training data ({', '.join(missing)}); build the "
                f"metrics after the split"
            )
        given = {r: available[r] for r in requires}
        if getattr(cls, "family", "topk") in CUTOFF_FAMILIES:
            instances = [cls(k=int(k), **given) for k in cfg.protocol.cutoffs]
        else:
            instances = [cls(**given)]
        for metric in instances:
            metric.name = planned.name  # the result key's stem is the registered name
            metrics[metric.key] = metric
    return metrics


def evaluation(ctx: RunContext) -> None:
    """Fill ``ctx.metrics``, then the evaluator and targets of the protocol's evaluation mode."""
    ctx.metrics = build_metrics(ctx.cfg, ctx.require("info"), ctx.require("plan").metrics)
    ranking = {k: m for k, m in ctx.metrics.items() if getattr(m, "family", "") != "pointwise"}
    pointwise = {k: m for k, m in ctx.metrics.items() if getattr(m, "family", "") == "pointwise"}
    if pointwise:
        from recframe.evaluation.pointwise import check_pointwise

        check_pointwise(pointwise, ctx.require("split").train, ctx.require("model"), ctx.require("plan").model.name)
    evaluation_mode(ctx.protocol).setup(ctx, ranking, pointwise)
    if not len(getattr(ctx.targets.get("valid"), "users", ())):
        ctx.protocol["model_selection"] = "none: no validation part, the last model is tested"
