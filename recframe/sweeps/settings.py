"""The Optuna sweeper's settings (``hydra.sweeper.*``), checked in one place.

Used by the sweeper itself and by the CLI's precheck, so a bad sampler, direction, objective or
search space fails in one line before Hydra starts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from recframe.errors import ConfigError
from recframe.sweeps.objectives import Objective, check_keys, parse_objectives
from recframe.sweeps.search_space import SearchSpace, parse_search_space

TARGET = "hydra_plugins.recframe_optuna_sweeper.RecframeOptunaSweeper"
KNOWN = {
    "_target_",
    "_recursive_",
    "study_name",
    "storage",
    "n_trials",
    "n_jobs",
    "sampler",
    "seed",
    "pruner",
    "objectives",
    "max_failures",
    "max_trials",
    "params",
}


@dataclass
class Settings:
    study_name: str
    storage: str | None
    n_trials: int
    n_jobs: int
    sampler: Any
    seed: int | None
    pruner: Any
    objectives: list[Objective]
    max_failures: int
    max_trials: int
    space: SearchSpace

    @property
    def is_grid(self) -> bool:
        from recframe.sweeps.samplers import sampler_name

        return sampler_name(self.sampler) == "grid"

    @property
    def directions(self) -> list[str]:
        return [o.direction for o in self.objectives]


def _plain(value: Any) -> Any:
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    return value


def _int(value: Any, key: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"hydra.sweeper.{key} must be an integer >= {minimum}, got {value!r}")
    return value


def parse_settings(
    sweeper: Mapping[str, Any],
    valid_metric: str,
    cli_overrides: Sequence[str] = (),
    metric_names: Sequence[str] | None = None,
    cutoffs: Sequence[int] | None = None,
) -> Settings:
    """Check ``hydra.sweeper`` and build the settings; ``metric_names``/``cutoffs`` check objective keys."""
    from recframe.sweeps.samplers import make_pruner, make_sampler, sampler_name

    sweeper = {str(k): _plain(v) for k, v in sweeper.items()}
    unknown = set(sweeper) - KNOWN
    if unknown:
        from recframe.errors import did_you_mean

        key = sorted(unknown)[0]
        raise ConfigError(
            f"hydra.sweeper.{key} is not a setting of the optuna sweeper "
            f"({', '.join(sorted(KNOWN - {'_target_', '_recursive_'}))}){did_you_mean(key, KNOWN)}"
        )
    n_trials = _int(sweeper.get("n_trials", 20), "n_trials", 1)
    n_jobs = _int(sweeper.get("n_jobs", 1), "n_jobs", 1)
    seed = sweeper.get("seed")
    if seed is not None:
        seed = _int(seed, "seed", 0)
    max_failures = sweeper.get("max_failures")
    max_failures = n_trials if max_failures is None else _int(max_failures, "max_failures", 0)
    max_trials = sweeper.get("max_trials")
    max_trials = 3 * n_trials if max_trials is None else _int(max_trials, "max_trials", 1)
    params = sweeper.get("params") or {}
    if not isinstance(params, Mapping):
        raise ConfigError(
            f"hydra.sweeper.params must be a mapping of config keys to choice()/range()/interval(), got {params!r}"
        )
    space = parse_search_space(params, cli_overrides)
    if not space.distributions:
        raise ConfigError(
            "the optuna sweeper has nothing to search: give hydra.sweeper.params (e.g. "
            "trainer.lr: tag(log, interval(1e-4, 1e-1))) or a sweep override on the command line"
        )
    objectives = parse_objectives(sweeper.get("objectives"), valid_metric)
    if metric_names is not None and cutoffs is not None:
        check_keys(objectives, metric_names, cutoffs)
    sampler = sweeper.get("sampler") or "tpe"
    name = sampler_name(sampler)
    grid = space.grid if len(space.grid) == len(space.distributions) else None
    if name == "grid" and grid is None:
        missing = sorted(set(space.distributions) - set(space.grid))
        raise ConfigError(f"sampler 'grid' needs choice() or range() values; {missing[0]} is an interval")
    make_sampler(sampler, seed, grid, len(objectives))  # checks the name and arguments
    pruner = sweeper.get("pruner")
    make_pruner(pruner)
    if pruner is not None and len(objectives) > 1:
        raise ConfigError(
            "pruning needs a single objective (optuna cannot prune multi-objective trials); "
            "set hydra.sweeper.pruner=null"
        )
    study_name = sweeper.get("study_name")
    if not study_name:
        raise ConfigError("hydra.sweeper.study_name is empty; set it (it names the study in the storage)")
    if name == "grid":
        n_trials = min(n_trials, space.grid_size())
    return Settings(
        study_name=str(study_name),
        storage=sweeper.get("storage"),
        n_trials=n_trials,
        n_jobs=n_jobs,
        sampler=sampler,
        seed=seed,
        pruner=pruner,
        objectives=objectives,
        max_failures=max_failures,
        max_trials=max_trials,
        space=space,
    )


def uses_optuna_sweeper(cfg: DictConfig) -> bool:
    return str(OmegaConf.select(cfg, "hydra.sweeper._target_", default="")) == TARGET


def check_config(cfg: DictConfig, cli_overrides: Sequence[str]) -> Settings | None:
    """Check the optuna sweeper settings of a composed config (``None`` if another sweeper is used)."""
    if not uses_optuna_sweeper(cfg):
        return None
    node = OmegaConf.select(cfg, "hydra.sweeper")
    return parse_settings(
        node,
        str(cfg.protocol.valid_metric),
        cli_overrides,
        list(cfg.metrics.names),
        [int(k) for k in cfg.protocol.cutoffs],
    )
