"""Built-in ranking metrics, registered through the public plugin hooks."""

from __future__ import annotations

from recframe import hookimpl
from recframe_metrics import ranking


@hookimpl
def register_metrics(register):
    register("hr", ranking.HitRate, aliases=["hit"])
    register("recall", ranking.Recall)
    register("precision", ranking.Precision)
    register("ndcg", ranking.NDCG)
    register("mrr", ranking.MRR)
    register("map", ranking.MAP)
