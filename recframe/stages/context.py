"""The run context: everything one run builds, handed from stage to stage.

:class:`RunContext` starts with the config and the run folder; each stage of
:data:`recframe.stages.STAGES` reads what earlier stages left and fills its own fields. :class:`Run`
is the narrower view lifecycle hooks (``on_run_start``, ``on_run_end``) receive.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig

if TYPE_CHECKING:
    import numpy as np

    from recframe.data.interactions import Interactions
    from recframe.data.split import Split
    from recframe.models import DatasetInfo, Recommender
    from recframe.plan import Plan


@dataclass
class Run:
    """What lifecycle hooks see: the config, the run folder and the pieces built so far."""

    cfg: DictConfig
    run_dir: Path
    data: Interactions | None = None
    split: Split | None = None
    model: Recommender | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Seeds:
    """Independent seeds derived from the run seed (``numpy.random.SeedSequence``)."""

    split: int
    sampler: int
    init: int
    candidates: int


#: Fits the built model in place and returns the fit facts stored under ``results.json``'s ``run``.
Fitter = Callable[["RunContext"], dict[str, Any]]


@dataclass
class RunContext:
    """One run's state. Fields are filled in stage order; a stage reads only earlier stages' fields."""

    cfg: DictConfig
    run_dir: Path
    # plan
    plan: Plan | None = None
    seeds: Seeds | None = None
    protocol: dict[str, Any] = field(default_factory=dict)
    # data, split
    data: Interactions | None = None
    split: Split | None = None
    features: Any = None  # recframe.data.features.FeatureTables when data.features is declared
    info: DatasetInfo | None = None
    # model
    model: Recommender | None = None
    run_facts: dict[str, Any] = field(default_factory=dict)  # merged into results.json's "run"
    run: Run | None = None
    # evaluation
    metrics: dict[str, Any] = field(default_factory=dict)  # key -> metric, every metric of the run
    evaluator: Any = None  # RankingEvaluator-like: reset/update/compute/evaluate
    targets: dict[str, Any] = field(default_factory=dict)  # "valid"/"test" -> evaluation target
    extra_metrics: dict[str, Any] = field(default_factory=dict)  # pointwise metrics beside a ranking
    train_batches: Any = None  # a training stream the evaluation mode imposes (labelled records)
    # fit
    fitter: Fitter | None = None  # set by a stage that replaces training (compressor.from_run)
    fit_facts: dict[str, Any] = field(default_factory=dict)
    fit_seconds: float = 0.0
    # results
    values: dict[str, float] = field(default_factory=dict)  # "<part>/<metric key>" -> value
    per_user: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    eval_seconds: float = 0.0
    cost_overrides: dict[str, Any] = field(default_factory=dict)  # replaces measured cost entries
    results: dict[str, Any] = field(default_factory=dict)

    def require(self, name: str) -> Any:
        """The field ``name``, which an earlier stage must have set (a stage-order bug otherwise)."""
        value = getattr(self, name)
        if value is None:
            raise RuntimeError(f"run stage order: '{name}' is read before any stage set it")
        return value


__all__ = ["Fitter", "Run", "RunContext", "Seeds"]
