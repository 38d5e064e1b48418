"""Content-based and hybrid models (item cold start), registered through the public plugin hooks.

Item representations (attributes, TF-IDF text, MiniLM sentence embeddings) live in
:mod:`recframe_content.representations`; see ``docs/content.md``.
"""

from __future__ import annotations

from recframe.api import hookimpl


@hookimpl
def register_models(register):
    register("content_knn", "recframe_content.knn:ContentKNN", aliases=["cbknn"])
    register("content_linear", "recframe_content.linear:ContentLinear", aliases=["content_bpr"])
    register("hybrid", "recframe_content.hybrid:HybridMF", aliases=["hybrid_mf"])
