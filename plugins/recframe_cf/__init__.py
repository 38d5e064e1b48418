"""Built-in collaborative-filtering models, registered through the public plugin hooks."""

from __future__ import annotations

from recframe.api import hookimpl
from recframe_cf import bpr, ease, gmf, ials, itemknn, lightgcn, multvae, ncf_mlp, neumf, pop


@hookimpl
def register_models(register):
    register("pop", pop.Pop, aliases=["most_popular"])
    register("bpr", bpr.BPRMF, aliases=["mf", "bprmf"])
    register("itemknn", itemknn.ItemKNN)
    register("ease", ease.EASE)
    register("ials", ials.IALS, aliases=["wmf"])
    register("gmf", gmf.GMF)
    register("ncf_mlp", ncf_mlp.NCFMLP)
    register("neumf", neumf.NeuMF)
    register("lightgcn", lightgcn.LightGCN)
    register("multvae", multvae.MultVAE, aliases=["multivae"])
