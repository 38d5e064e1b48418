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
    _register_small_baselines(register)


def _register_small_baselines(register) -> None:
    """Neighbourhood, graph-walk and linear baselines (Ferrari Dacrema et al., RecSys 2019)."""
    from recframe_cf import p3alpha, puresvd, rp3beta, slim, userknn

    register("userknn", userknn.UserKNN)
    register("p3alpha", p3alpha.P3alpha)
    register("rp3beta", rp3beta.RP3beta)
    register("slim", slim.SLIM, aliases=["slim_elasticnet"])
    register("puresvd", puresvd.PureSVD)
