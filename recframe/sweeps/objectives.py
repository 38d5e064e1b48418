"""Objectives: which numbers of a run's ``results.json`` a sweep optimises, and in which direction.

An objective is written ``KEY:DIRECTION`` (``valid/ndcg@10:max``,
``cost.score_latency_ms_per_1k_users:min``) or as a mapping ``{key: ..., direction: ...}``. A key
with a ``/`` names a metric (``results["metrics"]["valid/ndcg@10"]``); any other key is a dotted
path into the results (``cost.fit_seconds``, ``run.epochs``; ``metrics.valid/ndcg@10`` also works).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from recframe.errors import ConfigError, did_you_mean

DIRECTIONS = {"max": "maximize", "maximize": "maximize", "min": "minimize", "minimize": "minimize"}
COST_KEYS = (
    "params",
    "non_embedding_params",
    "model_bytes",
    "train_flops",
    "fit_seconds",
    "eval_seconds",
    "score_latency_ms_per_1k_users",
)


@dataclass(frozen=True)
class Objective:
    key: str
    direction: str  # "maximize" | "minimize"

    @property
    def short(self) -> str:
        return f"{self.key}:{'max' if self.direction == 'maximize' else 'min'}"


def parse_objective(spec: Any, where: str = "objective") -> Objective:
    """One objective from ``"key:dir"``, ``"key"`` (maximize) or ``{key, direction}``."""
    if isinstance(spec, Mapping):
        key, direction = spec.get("key"), spec.get("direction", "maximize")
    elif isinstance(spec, str):
        key, sep, direction = spec.rpartition(":") if ":" in spec else (spec, "", "maximize")
    else:
        raise ConfigError(f"{where} must be 'KEY:max|min' or {{key, direction}}, got {spec!r}")
    if not key:
        raise ConfigError(f"{where} has no key: {spec!r}")
    norm = DIRECTIONS.get(str(direction).lower())
    if norm is None:
        raise ConfigError(f"{where} '{key}': direction '{direction}' is not max/maximize or min/minimize")
    return Objective(str(key), norm)


def parse_objectives(specs: Any, default_metric: str) -> list[Objective]:
    """The objective list; ``None`` or empty means ``valid/<protocol.valid_metric>:max``."""
    if not specs:
        return [Objective(f"valid/{default_metric}", "maximize")]
    if isinstance(specs, (str, Mapping)):
        specs = [specs]
    objectives = [parse_objective(s, f"hydra.sweeper.objectives[{i}]") for i, s in enumerate(specs)]
    keys = [o.key for o in objectives]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"hydra.sweeper.objectives lists a key twice: {keys}")
    return objectives


def expected_keys(metric_names: Iterable[str], cutoffs: Iterable[int]) -> list[str]:
    """The keys every results.json of this config has (metrics, cost, fit facts)."""
    keys = [f"{part}/{m}@{k}" for part in ("valid", "test") for m in metric_names for k in cutoffs]
    keys += [f"cost.{c}" for c in COST_KEYS]
    keys += ["run.epochs", "run.best_valid"]
    return keys


def check_keys(objectives: Sequence[Objective], metric_names: Iterable[str], cutoffs: Iterable[int]) -> None:
    """Fail in one line before any trial when an objective cannot be found in the results."""
    known = expected_keys(list(metric_names), list(cutoffs))
    for o in objectives:
        key = o.key[len("metrics.") :] if o.key.startswith("metrics.") else o.key
        if key not in known:
            raise ConfigError(
                f"objective '{o.key}' is not in the results; keys are metrics like "
                f"{known[0]} and cost.* ({', '.join(COST_KEYS)}){did_you_mean(key, known)}"
            )


def value_of(results: Mapping[str, Any], key: str) -> float:
    """The number ``key`` names in ``results``; ``KeyError`` with the available keys if absent."""
    metrics = results.get("metrics", {})
    if key in metrics:
        return _number(metrics[key], key)
    if key.startswith("metrics.") and key[len("metrics.") :] in metrics:
        return _number(metrics[key[len("metrics.") :]], key)
    node: Any = results
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise KeyError(
                f"objective '{key}' is not in the results (metrics: {', '.join(sorted(metrics))}; "
                f"cost: {', '.join(sorted(results.get('cost', {})))})"
            )
        node = node[part]
    return _number(node, key)


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise KeyError(f"objective '{key}' is {value!r}, not a number")
    value = float(value)
    if math.isnan(value):
        raise KeyError(f"objective '{key}' is NaN")
    return value
