"""User callbacks from ``trainer.callbacks``: any Lightning callback, built by Hydra's ``instantiate``.

Each entry is ``{_target_: <class path>, <constructor argument>: <value>, ...}``, e.g.
``{_target_: lightning.pytorch.callbacks.LearningRateMonitor, logging_interval: step}``; they join
recframe's own callbacks (checkpointing, early stopping, pruning) in the run's Lightning trainer. The
config group ``trainer/callbacks`` holds ready-made lists (``trainer/callbacks=lr_monitor``).

:func:`check_callback_targets` runs in the plan, before any data is read: a target that cannot be
imported, is not a :class:`lightning.pytorch.callbacks.Callback` class, or is given arguments its
constructor does not take, is one line naming ``trainer.callbacks[i]``; so is a callback that logs
(``LearningRateMonitor``, ``DeviceStatsMonitor``) in a run with ``logger=none``, which Lightning
would otherwise refuse only once training starts.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf

from recframe.errors import ConfigError

EXAMPLE = "lightning.pytorch.callbacks.LearningRateMonitor"
# Lightning callbacks that write to the trainer's logger and refuse a trainer without one (at fit time).
NEED_A_LOGGER = ("LearningRateMonitor", "DeviceStatsMonitor")


def _entries(cfg: DictConfig) -> list[dict[str, Any]]:
    node = OmegaConf.select(cfg, "trainer.callbacks", default=None)
    if not node:
        return []
    return list(OmegaConf.to_container(node, resolve=True))  # type: ignore[arg-type]


def _locate(target: str, where: str) -> type:
    from hydra.utils import get_class

    try:
        found = get_class(target)
    except Exception as exc:  # Hydra raises ImportError or ValueError with its own multi-line text
        first = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        raise ConfigError(
            f"{where}._target_ {target!r} cannot be imported ({first}); give a Lightning callback's full "
            f"class path, e.g. {EXAMPLE}, from a package installed in this environment"
        ) from None
    from lightning.pytorch.callbacks import Callback

    if not (isinstance(found, type) and issubclass(found, Callback)):
        raise ConfigError(
            f"{where}._target_ {target!r} is not a Lightning callback (a subclass of "
            f"lightning.pytorch.callbacks.Callback); e.g. {EXAMPLE}"
        )
    return found


def _check_has_a_logger(cfg: DictConfig, cls: type, where: str) -> None:
    logger = OmegaConf.select(cfg, "logger.name", default=None)
    needs = [c.__name__ for c in cls.__mro__ if c.__name__ in NEED_A_LOGGER and c.__module__.startswith("lightning")]
    if logger == "none" and needs:
        raise ConfigError(
            f"{where} ({cls.__name__}) writes to the run's logger, but logger=none; "
            f"choose logger=csv (or tensorboard, mlflow, wandb), or drop the callback"
        )


def check_callback_targets(cfg: DictConfig) -> None:
    """Every ``trainer.callbacks`` entry names an importable Callback class and only arguments it takes."""
    for i, entry in enumerate(_entries(cfg)):
        where = f"trainer.callbacks[{i}]"
        cls = _locate(str(entry["_target_"]), where)
        _check_has_a_logger(cfg, cls, where)
        params = inspect.signature(cls).parameters
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            continue
        unknown = sorted(k for k in entry if not k.startswith("_") and k not in params)
        if unknown:
            takes = ", ".join(p for p in params if p not in ("self", "args", "kwargs")) or "no arguments"
            raise ConfigError(f"{where}.{unknown[0]} is not an argument of {entry['_target_']} (it takes: {takes})")


def build_user_callbacks(cfg: DictConfig) -> Sequence[Any]:
    """The ``trainer.callbacks`` objects, in their listed order."""
    from hydra.utils import instantiate

    built = []
    for i, entry in enumerate(_entries(cfg)):
        where = f"trainer.callbacks[{i}]"
        _locate(str(entry["_target_"]), where)
        try:
            built.append(instantiate(entry, _convert_="all"))
        except Exception as exc:  # the constructor rejected a value: its message, in one line
            cause = exc.__cause__ or exc
            first = next((line.strip() for line in str(cause).splitlines() if line.strip()), type(cause).__name__)
            raise ConfigError(f"{where} ({entry['_target_']}) could not be built: {first}") from None
    return built
