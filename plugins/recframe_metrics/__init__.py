"""Built-in metrics, registered through the public plugin hooks."""

from __future__ import annotations

from pathlib import Path

from recframe.api import Register, RegisterDir, hookimpl


@hookimpl
def register_metrics(register: Register) -> None:
    register("hr", "recframe_metrics.ranking:HitRate", aliases=["hit"])
    register("recall", "recframe_metrics.ranking:Recall")
    register("precision", "recframe_metrics.ranking:Precision")
    register("ndcg", "recframe_metrics.ranking:NDCG")
    register("mrr", "recframe_metrics.ranking:MRR")
    register("map", "recframe_metrics.ranking:MAP")
    register("auc", "recframe_metrics.auc:AUC")
    register("gauc", "recframe_metrics.auc:GAUC")
    register("coverage", "recframe_metrics.beyond:Coverage")
    register("gini", "recframe_metrics.beyond:Gini")
    register("entropy", "recframe_metrics.beyond:Entropy")
    register("avgpop", "recframe_metrics.beyond:AveragePopularity", aliases=["average_popularity"])
    register("novelty", "recframe_metrics.beyond:Novelty")
    register("tail", "recframe_metrics.beyond:TailShare", aliases=["tail_share"])
    register("rmse", "recframe_metrics.pointwise:RMSE")
    register("mae", "recframe_metrics.pointwise:MAE")
    register("logloss", "recframe_metrics.pointwise:LogLoss")
    register("pointwise_auc", "recframe_metrics.pointwise:PointwiseAUC")


@hookimpl
def register_config_dirs(register: RegisterDir) -> None:
    register(Path(__file__).parent / "conf")  # this plugin's config groups (model/, data/, ...)
