"""Built-in sequential (next-item) models, registered through the public plugin hooks."""

from __future__ import annotations

from pathlib import Path

from recframe.api import Register, RegisterDir, hookimpl


@hookimpl
def register_models(register: Register) -> None:
    register("sasrec", "recframe_sequential.sasrec:SASRec")
    register("gru4rec", "recframe_sequential.gru4rec:GRU4Rec")
    register("hstu", "recframe_sequential.hstu:HSTU")


@hookimpl
def register_explainers(register: Register) -> None:
    register("gradient_input", "recframe_sequential.explain_history:GradientInputExplainer")
    register("attention", "recframe_sequential.explain_history:AttentionExplainer")
    register("integrated_gradients", "recframe_sequential.explain_history:SequenceIntegratedGradients")


@hookimpl
def register_config_dirs(register: RegisterDir) -> None:
    register(Path(__file__).parent / "conf")  # this plugin's config groups (model/, data/, ...)
