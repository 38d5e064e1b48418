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


@hookimpl
def register_config_dirs(register: RegisterDir) -> None:
    register(Path(__file__).parent / "conf")  # this plugin's config groups (model/, data/, ...)
