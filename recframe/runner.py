"""The runner: one composed config in, one run directory with ``results.json`` out.

:func:`execute` runs the named stages of :data:`recframe.stages.STAGES` in order over one
:class:`~recframe.stages.context.RunContext` (plan, data, split, model, evaluation, fit, results,
compression, write; see docs/architecture.md); :func:`run` composes a config from overrides first.
The functions below ``execute`` are the stages' building blocks, kept here under their old names.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from recframe import config as rconfig
from recframe.cost import environment, score_latency_ms_per_1k
from recframe.data.interactions import Interactions
from recframe.data.split import Split
from recframe.errors import RecframeError
from recframe.factory import build
from recframe.plan import group_params as _group_params
from recframe.stages import GUARDS, STAGES
from recframe.stages.context import Run, RunContext
from recframe.stages.evaluation import build_metrics
from recframe.stages.model import cold_fallback
from recframe.stages.modes import ranking_targets
from recframe.stages.plan import derive_seeds
from recframe.stages.results import save_per_user, save_topk
from recframe.stages.split import split_data

log = logging.getLogger(__name__)


def load_data(cfg: DictConfig) -> Interactions:
    """The interactions of ``cfg.data`` (parsed, or from the cache when ``data_cache`` is on)."""
    from recframe.data.source import build_source, load_dataset
    from recframe.plugins import registries

    name, params = _group_params(cfg.data)
    source_cls = registries().data_source.get(name, config_key="data.name")
    source = build_source(source_cls, name, {"name": name, **params})
    return load_dataset(name, source, use_cache=bool(cfg.data_cache))


def make_split(cfg: DictConfig, data: Interactions, seed: int) -> Split:
    """``data`` filtered and split as ``cfg.protocol`` declares."""
    return split_data(cfg, data, seed)


def execute(cfg: DictConfig, run_dir: str | Path) -> dict[str, Any]:
    """Run one experiment in ``run_dir`` and return the contents of its ``results.json``."""
    ctx = RunContext(cfg, Path(run_dir))
    ctx.run_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as guards:
        for guard in GUARDS:
            guards.enter_context(guard(ctx))
        for name, stage in STAGES:
            log.debug("run stage %s", name)
            stage(ctx)
    return ctx.results


def run(
    overrides: list[str] | tuple[str, ...] = (), run_dir: str | Path | None = None, print_table: bool = False
) -> dict[str, Any]:
    """Compose a config from ``overrides`` (as on the command line), run it, and return the results.

    The run directory is the one the CLI would use (``hydra.run.dir``) unless ``run_dir`` is given.
    """
    from hydra.core.hydra_config import HydraConfig

    from recframe.alias_overrides import resolve_override_aliases

    overrides = resolve_override_aliases(
        list(overrides), rconfig.compose_plain
    )  # deprecated model.<old>= keys (warns once)
    cfg = rconfig.compose(overrides)
    HydraConfig.instance().set_config(cfg)
    target = Path(run_dir) if run_dir is not None else Path(str(cfg.hydra.run.dir))
    target.mkdir(parents=True, exist_ok=True)
    hydra_dir = target / ".hydra"
    hydra_dir.mkdir(exist_ok=True)
    from recframe.atomic import write_text

    write_text(hydra_dir / "config.yaml", OmegaConf.to_yaml(OmegaConf.create(rconfig.plain(cfg))))
    write_text(hydra_dir / "overrides.yaml", OmegaConf.to_yaml(OmegaConf.create(list(overrides))))
    results = execute(cfg, target)
    if print_table:
        from recframe.console import print_results

        print_results(results)
        print(f"results: {target / 'results.json'}", flush=True)  # where it went (cli_conventions.results_line)
    return results


__all__ = [
    "run",
    "execute",
    "Run",
    "RecframeError",
    "build",
    "build_metrics",
    "cold_fallback",
    "derive_seeds",
    "environment",
    "load_data",
    "make_split",
    "ranking_targets",
    "save_per_user",
    "save_topk",
    "score_latency_ms_per_1k",
]
