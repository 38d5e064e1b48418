"""The hook specifications every recframe plugin implements a subset of.

Contribution hooks receive a ``register`` callback; the core attributes each registration to the
plugin that made it and owns duplicate and alias handling. The full reference, with an example for
each hook, is ``docs/plugins/hooks.md`` (a test keeps the two in step).
"""

from __future__ import annotations

from typing import Any, Callable

import pluggy

PROJECT = "recframe"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Register = Callable[..., Any]


@hookspec
def register_data_sources(register: Register) -> None:
    """Register data sources: ``register(name, source_class, aliases=())``."""


@hookspec
def register_splitters(register: Register) -> None:
    """Register splitters: ``register(name, split_function, aliases=())``."""


@hookspec
def register_models(register: Register) -> None:
    """Register models: ``register(name, model_class, aliases=())``."""


@hookspec
def register_losses(register: Register) -> None:
    """Register losses: ``register(name, loss_class, aliases=())``."""


@hookspec
def register_metrics(register: Register) -> None:
    """Register metrics: ``register(name, metric_class, aliases=())``."""


@hookspec
def register_compressors(register: Register) -> None:
    """Register compressors: ``register(name, compressor_class, aliases=())``."""


@hookspec
def register_config_dirs(register: Register) -> None:
    """Register directories of Hydra config groups: ``register(path)``."""


@hookspec
def on_run_start(run: Any) -> None:
    """Called once a run's data and model are built, before fitting."""


@hookspec
def on_run_end(run: Any, results: dict) -> None:
    """Called after ``results.json`` is written, with the results dictionary."""
