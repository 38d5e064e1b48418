"""The hook specifications every recframe plugin implements a subset of.

Contribution hooks receive a ``register`` callback; the core attributes each registration to the
plugin that made it and owns duplicate and alias handling. The full reference, with an example for
each hook, is ``docs/plugins/hooks.md`` (a test keeps the two in step).

An implementation may take any subset of a spec's arguments (``def register_models(register)``,
``def on_run_end(results)``). Contribution hooks cannot be wrappers; lifecycle hooks can, with
pluggy's ``wrapper=True``, and honour ``tryfirst``/``trylast``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from recframe.data.interactions import Interactions
    from recframe.data.split import Split
    from recframe.models import Recommender

PROJECT = "recframe"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class Register(Protocol):
    """The callback a contribution hook receives: ``register(name, obj, aliases=(), description="")``.

    ``obj`` is the object itself or a lazy target ``"package.module:Attribute"`` (imported the first
    time the object is built, so registering costs no import).
    """

    def __call__(self, name: str, obj: Any, aliases: Sequence[str] = (), description: str = "") -> None: ...


class RegisterDir(Protocol):
    """The callback of ``register_config_dirs``: ``register(path)`` for a folder of config groups."""

    def __call__(self, path: str | os.PathLike[str]) -> None: ...


class Run(Protocol):
    """What lifecycle hooks see of a run: its config, folder and the pieces built so far."""

    cfg: DictConfig
    run_dir: Path
    data: Interactions | None
    split: Split | None
    model: Recommender | None
    extra: dict[str, Any]


@hookspec
def register_data_sources(register: Register) -> None:
    """Register data sources: ``register(name, source_class, aliases=())``."""


@hookspec
def register_filters(register: Register) -> None:
    """Register dataset filters: ``register(name, filter_function, aliases=())``, where
    ``filter_function(data: Interactions, **options) -> Interactions`` (``protocol.filters``)."""


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
def register_explainers(register: Register) -> None:
    """Register explainers: ``register(name, explainer_class, aliases=())`` (``recframe.api.Explainer``)."""


@hookspec
def register_config_dirs(register: RegisterDir) -> None:
    """Register directories of Hydra config groups: ``register(path)``."""


@hookspec
def on_run_start(run: Run) -> None:
    """Called once a run's data and model are built, before fitting."""


@hookspec
def on_run_end(run: Run, results: dict[str, Any]) -> None:
    """Called after ``results.json`` is written, with the results dictionary."""
