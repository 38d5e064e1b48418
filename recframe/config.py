"""Composing, checking and explaining recframe's Hydra configs.

The config tree ships inside the package as ``recframe.conf`` (``conf/`` in a checkout). This
module registers the OmegaConf resolvers the tree uses, composes configs for the Python API, checks
the core keys' types and ranges, and turns Hydra's multi-line composition errors into one line that
names the key and the fix.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from numbers import Number
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict

from recframe import paths
from recframe.errors import ConfigError, closest, did_you_mean

CONFIG_MODULE = "recframe.conf"
CONFIG_NAME = "config"


def register_resolvers() -> None:
    """Resolvers used by the config tree (idempotent)."""
    if not OmegaConf.has_resolver("recframe_data_dir"):
        OmegaConf.register_new_resolver("recframe_data_dir", lambda: str(paths.data_dir()))
    if not OmegaConf.has_resolver("recframe_dirname"):
        from recframe.folder_names import folder_name

        OmegaConf.register_new_resolver("recframe_dirname", folder_name)
    from recframe.sweeps.identity import register_resolver as register_sweep_name

    register_sweep_name()


def install_hydra_plugins() -> None:
    """Make Hydra see the config folders that recframe plugins register, and recframe's sweeper."""
    from recframe.hydra_searchpath import install

    install()
    from hydra.core.plugins import Plugins

    from hydra_plugins.recframe_optuna_sweeper import RecframeOptunaSweeper

    Plugins.instance().register(RecframeOptunaSweeper)


register_resolvers()
install_hydra_plugins()


def compose(overrides: Sequence[str] = (), config_name: str = CONFIG_NAME) -> DictConfig:
    """Compose the config as the CLI would, including the ``hydra`` node (for run directories)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    if GlobalHydra.instance().is_initialized():
        GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
            return hydra_compose(config_name=config_name, overrides=list(overrides), return_hydra_config=True)
    except ConfigError:
        raise
    except Exception as exc:
        from recframe.alias_overrides import resolve_override_aliases

        renamed = resolve_override_aliases(overrides, compose_plain)  # deprecated model.<old>= keys (warn once)
        if renamed != list(overrides):
            return compose(renamed, config_name)
        raise explain_hydra_error(exc, overrides) from None


def _null_group_error(overrides: Sequence[str]) -> ConfigError:
    """``group=null`` on a config group: say how a group is left out instead of Hydra's type complaint."""
    nulled = next(
        (
            o.split("=", 1)[0]
            for o in overrides
            if "=" in o and o.split("=", 1)[1].strip().lower() in ("null", "none", "~")
        ),
        None,
    )
    if nulled is None:
        return ConfigError("config error: a config group was given null; give one of its option names")
    group = nulled.lstrip("+~")
    return ConfigError(
        f"{nulled}=null: '{group}' is a config group and takes an option name; "
        f"to leave it out write ~{group} (or drop the override)"
    )


def explain_hydra_error(exc: Exception, overrides: Sequence[str] = ()) -> ConfigError:
    """One line for a Hydra composition or override error."""
    msg = str(exc)
    if "Config group override must be a string" in msg:
        return _null_group_error(overrides)
    missing = re.search(r"Could not find '([^']+)/([^'/]+)'", msg)
    if missing:
        group, value = missing.groups()
        options = re.findall(r"^\t(\S+)$", msg, flags=re.M)
        hint = did_you_mean(value, options)
        return ConfigError(
            f"unknown {group} '{value}' (config group '{group}'); available: {', '.join(options) or 'none'}{hint}"
        )
    cause = exc.__cause__
    while cause is not None:
        msg += "\n" + str(cause)
        cause = cause.__cause__
    not_struct = re.search(r"Could not override '([^']+)'", msg) or re.search(r"full_key: (\S+)", msg)
    if "not in struct" in msg and not_struct:
        key = not_struct.group(1)
        return ConfigError(
            f"unknown config key '{key}'{_sibling_hint(key, overrides)}; to add a new key write +{key}=..."
        )
    first = next((line.strip() for line in msg.splitlines() if line.strip()), type(exc).__name__)
    return ConfigError(f"config error: {first}")


def _sibling_hint(key: str, overrides: Sequence[str] = ()) -> str:
    """A did-you-mean among the keys next to ``key``, in the config the other overrides compose (so a
    typo in ``model.*`` is matched against the chosen model's keys)."""
    parent, _, leaf = key.rpartition(".")
    others = [o for o in overrides if o.lstrip("+~").split("=", 1)[0] != key]
    try:
        base = compose_plain(others)
        node = OmegaConf.select(base, parent) if parent else base
    except Exception:
        return ""
    if isinstance(node, DictConfig):
        match = closest(leaf, [str(k) for k in node.keys()])
        if match:
            return f"; did you mean '{parent + '.' if parent else ''}{match}'?"
    return ""


def compose_plain(overrides: Sequence[str] = ()) -> DictConfig:
    """The default config with ``overrides`` (used for hints)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
        return hydra_compose(config_name=CONFIG_NAME, overrides=list(overrides))


def _number(
    cfg: DictConfig,
    key: str,
    *,
    minimum: float | None = None,
    exclusive: bool = False,
    integer: bool = False,
    optional: bool = False,
) -> None:
    value = OmegaConf.select(cfg, key, default=None)
    if value is None:
        if optional:
            return
        raise ConfigError(f"{key} is missing; set {key}=...")
    kind = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, Number) or (integer and not float(value).is_integer()):
        raise ConfigError(f"{key} must be {kind}, got {value!r}")
    if minimum is not None and (value < minimum or (exclusive and value == minimum)):
        bound = f"> {minimum}" if exclusive else f">= {minimum}"
        raise ConfigError(f"{key} must be {bound}, got {value}")


def _trainer_choices(cfg: DictConfig) -> None:
    """``trainer.max_time`` (Lightning's ``DD:HH:MM:SS``) and ``trainer.positive_sampling``: checked
    before any data is read, so a typo costs no loading time."""
    from recframe.training.options import POSITIVE_SAMPLING

    value = OmegaConf.select(cfg, "trainer.max_time", default=None)
    if isinstance(value, int) and not isinstance(value, bool):
        raise ConfigError(
            f"trainer.max_time must be 'DD:HH:MM:SS' as a string, got the number {value}; in a YAML "
            f"file quote it (max_time: '01:00:00:00'): unquoted, YAML reads 1:00:00:00 as base 60"
        )
    if value is not None:
        parts = str(value).split(":")
        if len(parts) != 4 or not all(p.strip().isdigit() for p in parts):
            raise ConfigError(
                f"trainer.max_time must be 'DD:HH:MM:SS' (e.g. '00:00:30:00' for 30 minutes), got {value!r}"
            )
    positives = OmegaConf.select(cfg, "trainer.positive_sampling", default=None)
    if positives is not None and positives not in POSITIVE_SAMPLING:
        raise ConfigError(f"trainer.positive_sampling must be one of {', '.join(POSITIVE_SAMPLING)}, got {positives!r}")


def _named_groups(cfg: DictConfig) -> None:
    """Every selected model, loss and data file names what it builds (``name:``)."""
    for group in ("model", "loss", "data"):
        node = OmegaConf.select(cfg, group, default=None)
        if isinstance(node, DictConfig) and not node.get("name"):
            choice = OmegaConf.select(cfg, f"hydra.runtime.choices.{group}", default=None)
            where = f"config file {group}/{choice}.yaml" if choice else f"config group '{group}'"
            raise ConfigError(
                f"{where} has no 'name:' key; add the registered {group} it builds, e.g. "
                f"name: {choice or '<name>'} (or set {group}.name=...)"
            )


def validate(cfg: DictConfig) -> None:
    """Check the core keys' types and ranges; raise one-line :class:`ConfigError` s."""
    _named_groups(cfg)
    _number(cfg, "seed", minimum=0, integer=True)
    _trainer_choices(cfg)
    from recframe.value_checks import check_protocol, check_trainer

    check_trainer(cfg)
    from recframe.training.schedule_options import check_training_options  # scheduler, clipping, callbacks

    check_training_options(cfg)
    check_protocol(cfg)
    from recframe.scaling_budget import check_budget_rule

    check_budget_rule(cfg)  # a scaling sweep's declared budget rule (docs/scaling.md)
    for key, minimum, exclusive, integer in [
        ("trainer.lr", 0, True, False),
        ("trainer.weight_decay", 0, False, False),
        ("trainer.batch_size", 1, False, True),
        ("trainer.max_epochs", 1, False, True),
        ("trainer.num_negatives", 1, False, True),
        ("trainer.patience", 0, False, True),
        ("trainer.eval_batch_users", 1, False, True),
        ("trainer.eval_every", 1, False, True),
    ]:
        _number(cfg, key, minimum=minimum, exclusive=exclusive, integer=integer)
    names = OmegaConf.select(cfg, "metrics.names", default=None)
    if str(OmegaConf.select(cfg, "protocol.ranking", default="full")) == "none":  # labelled records (CTR)
        if not names:
            raise ConfigError("metrics.names is empty; protocol.ranking=none needs pointwise metrics, e.g. metrics=ctr")
        vm = str(OmegaConf.select(cfg, "protocol.valid_metric", default=""))
        if vm not in list(names):
            raise ConfigError(
                f"protocol.valid_metric '{vm}' is not in metrics.names {list(names)}; "
                f"protocol.ranking=none scores labelled records with pointwise metrics: add metrics=ctr "
                f"(pointwise_auc, logloss)"
            )
        return
    cutoffs = OmegaConf.select(cfg, "protocol.cutoffs")
    if not isinstance(cutoffs, (ListConfig, list)) or not cutoffs:
        raise ConfigError(f"protocol.cutoffs must be a non-empty list of integers >= 1, got {cutoffs!r}")
    for k in cutoffs:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ConfigError(f"protocol.cutoffs: every cut-off k must be an integer >= 1, got {k!r}")
    ratios = OmegaConf.select(cfg, "protocol.split.ratios", default=None)
    if ratios is not None:
        if any(not isinstance(r, Number) or r < 0 for r in ratios) or abs(sum(ratios) - 1.0) > 1e-6:
            raise ConfigError(f"protocol.split.ratios must be non-negative and sum to 1, got {list(ratios)}")
    names = OmegaConf.select(cfg, "metrics.names", default=None)
    if not names:
        raise ConfigError("metrics.names is empty; list at least one metric, e.g. metrics.names=[ndcg,recall]")
    vm = str(OmegaConf.select(cfg, "protocol.valid_metric", default=""))
    name, _, k = vm.partition("@")
    if not k.isdigit() or int(k) not in list(cutoffs) or name not in list(names):
        raise ConfigError(
            f"protocol.valid_metric '{vm}' must be <metric>@<k> with the metric in metrics.names "
            f"{list(names)} and k in protocol.cutoffs {list(cutoffs)}"
        )


def plain(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config without Hydra's own node, as plain Python containers."""
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.pop("hydra", None)
    return OmegaConf.to_container(cfg, resolve=True)


def config_hash(cfg: DictConfig) -> str:
    """A short hash of the resolved config (without Hydra's node and run-only switches)."""
    data = plain(cfg)
    for key in ("resume", "print_table", "trial"):
        data.pop(key, None)
    data.get("trainer", {}).pop("progress_bar", None)
    data.pop("paths", None)
    return hashlib.sha256(OmegaConf.to_yaml(OmegaConf.create(data)).encode()).hexdigest()[:12]
