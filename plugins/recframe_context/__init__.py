"""Built-in context-aware (CTR) models over declared feature fields, registered through the public hooks.

FM, DeepFM, Wide&Deep and DCN-V2 share the field embedding code in ``fields.py``; they train on
labelled records under ``protocol.ranking: none`` (docs/context.md) and rank every item under the
general protocol.
"""

from __future__ import annotations

from recframe.api import hookimpl


@hookimpl
def register_models(register):
    register("fm", "recframe_context.fm:FM")
    register("deepfm", "recframe_context.deepfm:DeepFM")
    register("widedeep", "recframe_context.widedeep:WideDeep", aliases=["wide_deep"])
    register("dcnv2", "recframe_context.dcnv2:DCNv2", aliases=["dcn_v2"])
