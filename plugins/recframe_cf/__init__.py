"""Built-in collaborative-filtering models, registered through the public plugin hooks."""

from __future__ import annotations

from pathlib import Path

from recframe.api import Register, RegisterDir, hookimpl


@hookimpl
def register_models(register: Register) -> None:
    register("pop", "recframe_cf.pop:Pop", aliases=["most_popular"])
    register("bpr", "recframe_cf.bpr:BPRMF", aliases=["mf", "bprmf"])
    register("itemknn", "recframe_cf.itemknn:ItemKNN")
    register("ease", "recframe_cf.ease:EASE")
    register("ials", "recframe_cf.ials:IALS", aliases=["wmf"])
    register("gmf", "recframe_cf.gmf:GMF")
    register("ncf_mlp", "recframe_cf.ncf_mlp:NCFMLP")
    register("neumf", "recframe_cf.neumf:NeuMF")
    register("lightgcn", "recframe_cf.lightgcn:LightGCN")
    register("multvae", "recframe_cf.multvae:MultVAE", aliases=["multivae"])
    # neighbourhood, graph-walk and linear baselines (Ferrari Dacrema et al., RecSys 2019)
    register("userknn", "recframe_cf.userknn:UserKNN")
    register("p3alpha", "recframe_cf.p3alpha:P3alpha")
    register("rp3beta", "recframe_cf.rp3beta:RP3beta")
    register("slim", "recframe_cf.slim:SLIM", aliases=["slim_elasticnet"])
    register("puresvd", "recframe_cf.puresvd:PureSVD")
    # lists or scores made elsewhere, evaluated under the run's protocol (recframe evaluate --recs)
    register("precomputed", "recframe_cf.precomputed:Precomputed", aliases=["proxy"])


@hookimpl
def register_explainers(register: Register) -> None:
    register("item_weights", "recframe_cf.explain_item_weights:ItemWeightsExplainer", aliases=["itemknn_ease"])
    register("factor_fold_in", "recframe_cf.explain_factors:FactorFoldInExplainer", aliases=["factors"])
    register("neighbour_users", "recframe_cf.explain_neighbours:NeighbourUsersExplainer")
    register("row_gradient_input", "recframe_cf.explain_history_rows:RowGradientInput")
    register("row_integrated_gradients", "recframe_cf.explain_history_rows:RowIntegratedGradients")


@hookimpl
def register_config_dirs(register: RegisterDir) -> None:
    register(Path(__file__).parent / "conf")  # this plugin's config groups (model/, data/, ...)
