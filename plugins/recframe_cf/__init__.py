"""Built-in collaborative-filtering models, registered through the public plugin hooks."""

from __future__ import annotations

from recframe import hookimpl
from recframe_cf import bpr, pop


@hookimpl
def register_models(register):
    register("pop", pop.Pop, aliases=["most_popular"])
    register("bpr", bpr.BPRMF, aliases=["mf", "bprmf"])
