"""Built-in context-aware (CTR) models over declared feature fields, registered through the public hooks.

FM, DeepFM, Wide&Deep and DCN-V2 share the field embedding code in ``fields.py``; they train on
labelled records under ``protocol.ranking: none`` (docs/context.md) and rank every item under the
general protocol.
"""

from __future__ import annotations

from pathlib import Path

from recframe.api import Register, RegisterDir, hookimpl


@hookimpl
def register_models(register: Register) -> None:
    register("fm", "recframe_context.fm:FM")
    register("deepfm", "recframe_context.deepfm:DeepFM")
    register("widedeep", "recframe_context.widedeep:WideDeep", aliases=["wide_deep"])
    register("dcnv2", "recframe_context.dcnv2:DCNv2", aliases=["dcn_v2"])


@hookimpl
def register_explainers(register: Register) -> None:
    register("fm_fields", "recframe_context.explain_fields:FMFieldExplainer")
    register("field_integrated_gradients", "recframe_context.explain_fields:FieldIntegratedGradients")


@hookimpl
def register_config_dirs(register: RegisterDir) -> None:
    register(Path(__file__).parent / "conf")  # this plugin's config groups (model/, data/, ...)
