"""Content-based and hybrid models (item cold start), registered through the public plugin hooks.

Item representations (attributes, TF-IDF text, MiniLM sentence embeddings) live in
:mod:`recframe_content.representations`; see ``docs/content.md``.
"""

from __future__ import annotations

from pathlib import Path

from recframe.api import Register, RegisterDir, hookimpl


@hookimpl
def register_models(register: Register) -> None:
    register("content_knn", "recframe_content.knn:ContentKNN", aliases=["cbknn"])
    register("content_linear", "recframe_content.linear:ContentLinear", aliases=["content_bpr"])
    register("hybrid", "recframe_content.hybrid:HybridMF", aliases=["hybrid_mf"])


@hookimpl
def register_explainers(register: Register) -> None:
    register("content_terms", "recframe_content.explain_terms:ContentTermsExplainer")


@hookimpl
def register_config_dirs(register: RegisterDir) -> None:
    register(Path(__file__).parent / "conf")  # this plugin's config groups (model/, data/, ...)
