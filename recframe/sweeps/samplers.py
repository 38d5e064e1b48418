"""Optuna samplers and pruners by name, with one-line errors for unknown names or arguments.

A sampler is ``tpe`` | ``random`` | ``cmaes`` | ``nsgaii`` | ``grid`` (``qmc`` too), or a mapping
``{name: tpe, n_startup_trials: 5, ...}`` whose other keys are the sampler's keyword arguments
(the lightning-hydra-template form ``{_target_: optuna.samplers.TPESampler, ...}`` is accepted).
A pruner is ``null`` (none), ``median``, ``percentile``, ``hyperband``, ``successive_halving``,
``threshold`` or ``patient`` in the same forms.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from recframe.errors import ConfigError, did_you_mean
from recframe.factory import build, parameter_names

SAMPLERS = {
    "tpe": "TPESampler",
    "random": "RandomSampler",
    "cmaes": "CmaEsSampler",
    "nsgaii": "NSGAIISampler",
    "nsga2": "NSGAIISampler",
    "grid": "GridSampler",
    "qmc": "QMCSampler",
}
PRUNERS = {
    "median": "MedianPruner",
    "percentile": "PercentilePruner",
    "hyperband": "HyperbandPruner",
    "successive_halving": "SuccessiveHalvingPruner",
    "threshold": "ThresholdPruner",
    "patient": "PatientPruner",
    "nop": "NopPruner",
    "none": "NopPruner",
}


def _split(spec: Any, kind: str, table: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """(canonical name, kwargs) from a name or a mapping."""
    if isinstance(spec, str):
        name, kwargs = spec, {}
    elif isinstance(spec, Mapping):
        kwargs = {str(k): v for k, v in spec.items()}
        name = kwargs.pop("name", None)
        target = kwargs.pop("_target_", None)
        if name is None and target is not None:
            cls = str(target).rsplit(".", 1)[-1]
            name = next((k for k, v in table.items() if v == cls), cls)
        if name is None:
            raise ConfigError(f"hydra.sweeper.{kind} needs a name, e.g. {{name: {next(iter(table))}}}")
    else:
        raise ConfigError(f"hydra.sweeper.{kind} must be a name or a mapping, got {spec!r}")
    key = str(name).lower()
    if key not in table:
        raise ConfigError(
            f"unknown {kind} '{name}'; choose one of {', '.join(sorted(set(table)))}{did_you_mean(key, table)}"
        )
    return key, kwargs


def _construct(cls: Any, kwargs: dict[str, Any], kind: str, name: str) -> Any:
    return build(cls, f"hydra.sweeper.{kind}", name, kwargs, owner=cls.__name__, noun="argument")


def sampler_name(spec: Any) -> str:
    return _split(spec if spec is not None else "tpe", "sampler", SAMPLERS)[0]


def make_sampler(spec: Any, seed: int | None, grid: dict[str, list[Any]] | None = None, n_objectives: int = 1) -> Any:
    """Build the sampler; ``grid`` (key -> values) is the search space of the grid sampler."""
    import optuna

    name, kwargs = _split(spec if spec is not None else "tpe", "sampler", SAMPLERS)
    cls = getattr(optuna.samplers, SAMPLERS[name])
    if seed is not None and "seed" in (parameter_names(cls) or ()):
        kwargs.setdefault("seed", int(seed))
    if name == "grid":  # the sweeper walks the grid itself (enqueue_trial); see optuna_sweeper.py
        if grid is None:
            raise ConfigError("sampler 'grid' needs every hydra.sweeper.params value to be choice() or range()")
        if kwargs:
            raise ConfigError(f"sampler 'grid' takes no arguments, got {sorted(kwargs)}")
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "cmaes" and n_objectives > 1:
        raise ConfigError("sampler 'cmaes' optimises one objective; use nsgaii or tpe for several")
    if name == "cmaes":
        import importlib.util

        if importlib.util.find_spec("cmaes") is None:
            raise ConfigError("sampler 'cmaes' needs the cmaes package: pip install 'recframe[cmaes]'")
    return _construct(cls, kwargs, "sampler", name)


def make_pruner(spec: Any) -> Any:
    """Build the pruner (``None`` gives optuna's NopPruner: trials are never pruned)."""
    import optuna

    if spec is None:
        return optuna.pruners.NopPruner()
    name, kwargs = _split(spec, "pruner", PRUNERS)
    cls = getattr(optuna.pruners, PRUNERS[name])
    if name == "patient":
        wrapped = kwargs.pop("wrapped_pruner", None)
        kwargs["wrapped_pruner"] = make_pruner(wrapped) if wrapped is not None else None
    return _construct(cls, kwargs, "pruner", name)


def pruner_spec(spec: Any) -> Any:
    """A plain (JSON-able) copy of a pruner spec, stored with the study for the jobs to rebuild."""
    if spec is None or isinstance(spec, str):
        return spec
    if isinstance(spec, Mapping):
        return {str(k): pruner_spec(v) if isinstance(v, Mapping) else v for k, v in spec.items()}
    return spec
