"""Built-in metrics, registered through the public plugin hooks."""

from __future__ import annotations

from recframe.api import MAE, RMSE, LogLoss, PointwiseAUC, hookimpl
from recframe_metrics import auc, beyond, ranking


@hookimpl
def register_metrics(register):
    register("hr", ranking.HitRate, aliases=["hit"])
    register("recall", ranking.Recall)
    register("precision", ranking.Precision)
    register("ndcg", ranking.NDCG)
    register("mrr", ranking.MRR)
    register("map", ranking.MAP)
    register("auc", auc.AUC)
    register("gauc", auc.GAUC)
    register("coverage", beyond.Coverage)
    register("gini", beyond.Gini)
    register("entropy", beyond.Entropy)
    register("avgpop", beyond.AveragePopularity, aliases=["average_popularity"])
    register("novelty", beyond.Novelty)
    register("tail", beyond.TailShare, aliases=["tail_share"])
    register("rmse", RMSE)
    register("mae", MAE)
    register("logloss", LogLoss)
    register("pointwise_auc", PointwiseAUC)
