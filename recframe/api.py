"""The public plugin API: every name a plugin may import from recframe.

A plugin (built-in or third-party) imports core names from here and nowhere else; everything
outside this module is private to the core and may change between releases. Names resolve lazily
(PEP 562 ``__getattr__``), so ``import recframe.api`` costs nothing until a name is used: a plugin
module can import its base classes at module level without making ``recframe plugins`` or a
config error pay for torch.

``tests/test_public_api.py`` fails when a file under ``plugins/`` or ``docs/examples/`` imports a
core module other than this one.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from recframe.hookspecs import hookimpl

# name -> defining module. One table, so the documentation, the boundary test and the lazy loader
# agree on what is public.
_EXPORTS: dict[str, str] = {
    # models and losses
    "Recommender": "recframe.models",
    "ClosedFormRecommender": "recframe.models",
    "DatasetInfo": "recframe.models",
    "Loss": "recframe.models",
    # data
    "Interactions": "recframe.data.interactions",
    "TRAIN": "recframe.data.interactions",
    "VALID": "recframe.data.interactions",
    "TEST": "recframe.data.interactions",
    "Split": "recframe.data.split",
    "DataSource": "recframe.data.source",
    "Download": "recframe.data.source",
    "FeatureTables": "recframe.data.features",
    "build_features": "recframe.data.features",
    "PAD": "recframe.data.sequences",
    "last_items": "recframe.data.sequences",
    "dedup": "recframe.data.filters",
    # readers for data sources
    "read_delimited": "recframe.data.readers",
    "read_user_lists": "recframe.data.readers",
    "read_split_lines": "recframe.data.readers",
    "numeric_column": "recframe.data.readers",
    "check_encoding": "recframe.data.readers",
    "parser_error_message": "recframe.data.readers",
    # metrics
    "TopKMetric": "recframe.evaluation.metrics",
    "ListMetric": "recframe.evaluation.metrics",
    "ScoreMetric": "recframe.evaluation.metrics",
    "PointwiseMetric": "recframe.evaluation.pointwise",
    "METRIC_INPUTS": "recframe.evaluation.metrics",
    # compression
    "Compressor": "recframe.compression",
    "CompressionContext": "recframe.compression",
    "Measured": "recframe.compression",
    "unwrap": "recframe.compression",
    "replace_module": "recframe.compression",
    "evaluate": "recframe.compression",
    "storage": "recframe.compression",
    "teacher_topk": "recframe.compression",
    # fast helpers the built-ins rely on
    "NegativeSampler": "recframe.training.sampling",
    "sorted_unique": "recframe.training.sampling",
    "dot_scores": "recframe.training.dot_scores",
    "cg_half_step": "recframe.training.als",
    # errors
    "RecframeError": "recframe.errors",
    "ConfigError": "recframe.errors",
    "DataError": "recframe.errors",
    "PluginError": "recframe.errors",
    "TrainingError": "recframe.errors",
    # files and folders
    "atomic_path": "recframe.atomic",
    "cache_dir": "recframe.paths",
    # runs and cost
    "Run": "recframe.stages.context",
    "model_size": "recframe.sizes",
    # hook argument types
    "Register": "recframe.hookspecs",
    "RegisterDir": "recframe.hookspecs",
    # safe loading of checkpoints and saved weights
    "load_checkpoint": "recframe.checkpoints",
    "load_model_state": "recframe.checkpoints",
    # progress bars
    "progress_enabled": "recframe.progress",
    # memory checks before dense allocations
    "check_dense_allocation": "recframe.memory",
    # serving: a model's own fold-in of a new user's history
    "least_squares_fold_in": "recframe.serving.foldin",
    # external recommendation lists (the precomputed model)
    "read_recs": "recframe.evaluation.recs",
    "Recs": "recframe.evaluation.recs",
    # explanations: the explainer contract, reason records, attribution helpers
    "Explainer": "recframe.explain.base",
    "Reason": "recframe.explain.reasons",
    "HistoryItemReason": "recframe.explain.reasons",
    "FieldReason": "recframe.explain.reasons",
    "ContentReason": "recframe.explain.reasons",
    "NeighbourReason": "recframe.explain.reasons",
    "integrated_gradients": "recframe.explain.integrated",
    "item_item_weights": "recframe.serving.vectors",
}

__all__ = ["hookimpl", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"recframe.api has no name {name!r}; public names: {', '.join(__all__)}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # resolve once
    return value


def __dir__() -> list[str]:
    return list(__all__)


if TYPE_CHECKING:  # static checkers see the real names
    from recframe.atomic import atomic_path
    from recframe.checkpoints import load_checkpoint, load_model_state
    from recframe.compression import (
        CompressionContext,
        Compressor,
        Measured,
        evaluate,
        replace_module,
        storage,
        teacher_topk,
        unwrap,
    )
    from recframe.data.features import FeatureTables, build_features
    from recframe.data.filters import dedup
    from recframe.data.interactions import TEST, TRAIN, VALID, Interactions
    from recframe.data.readers import (
        check_encoding,
        numeric_column,
        parser_error_message,
        read_delimited,
        read_split_lines,
        read_user_lists,
    )
    from recframe.data.sequences import PAD, last_items
    from recframe.data.source import DataSource, Download
    from recframe.data.split import Split
    from recframe.errors import ConfigError, DataError, PluginError, RecframeError, TrainingError
    from recframe.evaluation.metrics import METRIC_INPUTS, ListMetric, ScoreMetric, TopKMetric
    from recframe.evaluation.pointwise import PointwiseMetric
    from recframe.hookspecs import Register, RegisterDir
    from recframe.models import ClosedFormRecommender, DatasetInfo, Loss, Recommender
    from recframe.memory import check_dense_allocation
    from recframe.paths import cache_dir
    from recframe.sizes import model_size
    from recframe.stages.context import Run
    from recframe.progress import progress_enabled
    from recframe.serving.foldin import least_squares_fold_in
    from recframe.evaluation.recs import Recs, read_recs
    from recframe.training.als import cg_half_step
    from recframe.training.dot_scores import dot_scores
    from recframe.training.sampling import NegativeSampler, sorted_unique
    from recframe.explain.base import Explainer
    from recframe.explain.integrated import integrated_gradients
    from recframe.explain.reasons import ContentReason, FieldReason, HistoryItemReason, NeighbourReason, Reason
    from recframe.serving.vectors import item_item_weights
