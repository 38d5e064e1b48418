"""Built-in context-aware (CTR) models over declared feature fields, registered through the public hooks.

FM, DeepFM, Wide&Deep and DCN-V2 share the field embedding code in ``fields.py``; they train on
labelled records under ``protocol.ranking: none`` (docs/context.md) and rank every item under the
general protocol.
"""

from __future__ import annotations

from recframe.api import hookimpl
from recframe_context import dcnv2, deepfm, fm, widedeep


@hookimpl
def register_models(register):
    register("fm", fm.FM)
    register("deepfm", deepfm.DeepFM)
    register("widedeep", widedeep.WideDeep, aliases=["wide_deep"])
    register("dcnv2", dcnv2.DCNv2, aliases=["dcn_v2"])
