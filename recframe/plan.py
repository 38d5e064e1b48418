"""The plan check: every name and every parameter set of a run, resolved before any file is read.

:func:`make_plan` looks up the data source, filters, splitter, model, loss, metrics and compressor
stages in their registries, checks the negative sampler's distribution, and checks each parameter
set against its constructor's signature with :func:`recframe.factory.check_params`, the same check
:func:`recframe.factory.build` applies when the object is built later. A typo in
``model.embeding_dim`` is therefore reported in one line before the dataset is parsed, even when
the dataset folder does not exist.

The resolved :class:`Plan` is what the later stages build from, so a name is resolved once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, OmegaConf

from recframe.errors import ConfigError, PluginError
from recframe.factory import check_params


@dataclass(frozen=True)
class Planned:
    """One resolved object: its canonical registry name, the class (or factory) and its config params."""

    name: str
    factory: Any
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    """Everything a run will build, resolved and checked."""

    source: Planned
    splitter: Planned
    model: Planned
    loss: Planned | None  # None for models without an optimiser (``trainable`` False)
    metrics: tuple[Planned, ...]
    compressors: tuple[Planned, ...]


def group_params(node: DictConfig) -> tuple[str, dict[str, Any]]:
    """``(name, other keys)`` of a config group node such as ``cfg.model``."""
    params = OmegaConf.to_container(node, resolve=True)
    if not isinstance(params, dict) or "name" not in params:
        raise ConfigError(f"config group '{node._key()}' needs a name: key")
    return str(params.pop("name")), params


def source_options(data_cfg: dict[str, Any]) -> dict[str, Any]:
    """The data source's constructor options: the ``data`` keys other than name, path and features
    (``data.features`` declares model inputs, recframe/data/features.py)."""
    return {k: v for k, v in data_cfg.items() if k not in {"name", "path", "features"}}


def make_plan(cfg: DictConfig) -> Plan:
    """Resolve and check the run's objects (one-line :class:`ConfigError`/:class:`PluginError` on a mistake)."""
    from recframe.plugins import registries

    regs = registries()
    name, data_cfg = group_params(cfg.data)
    source_cls = regs.data_source.get(name, config_key="data.name")
    options = source_options(data_cfg)
    check_params(source_cls, "data", name, options, 1, owner=f"data source '{name}'", noun="option")
    source = Planned(name, source_cls, data_cfg)

    protocol = OmegaConf.to_container(cfg.protocol, resolve=True)
    check_filters(protocol.get("filters") or [])
    spec = dict(protocol["split"])
    split_name = str(spec.pop("name"))
    splitter = regs.splitter.get(split_name, config_key="protocol.split.name")
    check_params(splitter, "protocol.split", split_name, {**spec, "seed": 0}, 1)

    model_name, model_params = group_params(cfg.model)
    model_entry = regs.model.entry(model_name, config_key="model.name")
    from recframe.param_aliases import resolve_param_aliases

    model_params = resolve_param_aliases(model_entry.obj, "model", model_name, model_params)
    check_params(model_entry.obj, "model", model_name, model_params, 1)

    from recframe.privacy.settings import check_privacy
    from recframe.privacy.stage import membership_settings

    check_privacy(cfg, model_entry.name, bool(getattr(model_entry.obj, "trainable", True)))  # trainer.privacy
    membership_settings(cfg)
    loss = None
    if getattr(model_entry.obj, "trainable", True):
        check_negative_sampling(cfg)
        from recframe.training.user_callbacks import check_callback_targets  # importable Callback classes

        check_callback_targets(cfg)
        loss_name, loss_params = group_params(cfg.loss)
        loss_cls = regs.loss.get(loss_name, config_key="loss.name")
        check_params(loss_cls, "loss", loss_name, loss_params)
        loss = Planned(loss_name, loss_cls, loss_params)
        from recframe.training.compiled_options import check_compiled_epoch  # trainer.optimizer=*_compiled

        check_compiled_epoch(cfg, model_entry.name, model_entry.obj, loss_name)

    return Plan(
        source,
        Planned(split_name, splitter, spec),
        Planned(model_entry.name, model_entry.obj, model_params),
        loss,
        tuple(plan_metrics(cfg)),
        tuple(plan_compressors(cfg)),
    )


def check_negative_sampling(cfg: DictConfig) -> None:
    """``trainer.negative_sampling`` names a distribution the negative sampler has."""
    from recframe.training.sampling import DISTRIBUTIONS

    value = OmegaConf.select(cfg, "trainer.negative_sampling", default="uniform")
    if value not in DISTRIBUTIONS:
        raise ConfigError(f"trainer.negative_sampling must be one of {', '.join(DISTRIBUTIONS)}, got {value!r}")


def check_filters(filters: list[Any]) -> None:
    """Each ``protocol.filters`` entry names a registered filter (``register_filters``) and only options it takes."""
    from recframe.errors import did_you_mean
    from recframe.plugins import registries

    registry = registries().filter
    for n, spec in enumerate(filters):
        if not isinstance(spec, dict):
            raise ConfigError(f"protocol.filters[{n}] must be a mapping like {{name: kcore, k: 10}}, got {spec!r}")
        options = dict(spec)
        name = options.pop("name", None)
        if not isinstance(name, str) or name not in registry:
            raise ConfigError(
                f"protocol.filters[{n}].name '{name}' is unknown (available: "
                f"{', '.join(registry.names())}){did_you_mean(str(name), registry.names())}"
            )
        check_params(
            registry.get(name), f"protocol.filters[{n}]", name, options, 1, owner=f"filter '{name}'", noun="option"
        )


def plan_metrics(cfg: DictConfig) -> list[Planned]:
    """The metrics of ``metrics.names``, each with the inputs its constructor will be given checked."""
    from recframe.evaluation.metrics import CUTOFF_FAMILIES, METRIC_INPUTS
    from recframe.plugins import registries

    regs = registries()
    planned = []
    for name in cfg.metrics.names:
        entry = regs.metric.entry(name, config_key="metrics.names")
        requires = tuple(getattr(entry.obj, "requires", ()))
        unknown = [r for r in requires if r not in METRIC_INPUTS]
        if unknown:
            raise PluginError(
                f"metric '{entry.name}' (plugin '{entry.plugin}') requires {unknown}, which recframe "
                f"does not provide; a metric may require {', '.join(METRIC_INPUTS)}"
            )
        inputs = {r: None for r in requires}
        if getattr(entry.obj, "family", "topk") in CUTOFF_FAMILIES:
            inputs["k"] = 1
        check_params(entry.obj, "metrics", entry.name, inputs, owner=f"metric '{entry.name}'")
        planned.append(Planned(entry.name, entry.obj))
    return planned


def plan_compressors(cfg: DictConfig) -> list[Planned]:
    """The compressor stages of ``cfg.compressor``, each resolved and its parameters checked."""
    from recframe.compression import stage_specs
    from recframe.plugins import registries

    regs = registries()
    planned = []
    for spec in stage_specs(cfg):
        params = dict(spec)
        name = str(params.pop("name"))
        cls = regs.compressor.get(name, config_key="compressor.name")
        check_params(cls, "compressor", name, params)
        planned.append(Planned(name, cls, params))
    return planned


__all__ = [
    "Plan",
    "Planned",
    "check_filters",
    "check_negative_sampling",
    "group_params",
    "make_plan",
    "plan_compressors",
    "plan_metrics",
    "source_options",
]
