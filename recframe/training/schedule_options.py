"""Checks of ``trainer.scheduler``, ``trainer.gradient_clip_*`` and ``trainer.callbacks``, free of torch.

They run with the other config checks (``recframe.config.validate``), before any data is read, so a
misspelt scheduler option or a clip bound of ``-1`` costs one line and no loading time. What the keys
mean, and how each scheduler is built, is in :mod:`recframe.training.schedulers`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from recframe.errors import ConfigError

# trainer.scheduler.name -> (its options besides name and interval, the intervals it may step at)
SCHEDULERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "none": ((), ("epoch", "step")),
    "step": (("step_size", "gamma"), ("epoch", "step")),
    "cosine": (("t_max", "eta_min"), ("epoch", "step")),
    "onecycle": (("max_lr", "pct_start", "anneal_strategy", "div_factor", "final_div_factor"), ("step",)),
    "warmup": (("warmup_steps", "start_factor"), ("step",)),
    "plateau": (("factor", "patience", "threshold", "min_lr"), ("epoch",)),
}
CLIP_ALGORITHMS = ("norm", "value")


def _positive(
    key: str, value: Any, *, integer: bool = False, allow_zero: bool = False, below_one: bool = False
) -> None:
    kind = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not float(value).is_integer()):
        raise ConfigError(f"{key} must be {kind}, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero) or (below_one and value >= 1):
        bound = "in (0, 1)" if below_one else (">= 0" if allow_zero else "> 0")
        raise ConfigError(f"{key} must be {bound}, got {value}")


def check_scheduler(spec: Any) -> None:
    """``trainer.scheduler``: a known name, only that scheduler's options, values in range."""
    if spec is None:
        return
    if not isinstance(spec, (Mapping, DictConfig)):
        raise ConfigError(
            f"trainer.scheduler must be a mapping with a name, got {spec!r}; pick one with "
            f"trainer/scheduler=<{'|'.join(SCHEDULERS)}>"
        )
    name = str(spec.get("name", "none"))
    if name not in SCHEDULERS:
        raise ConfigError(
            f"trainer.scheduler.name {name!r} is not one of {', '.join(SCHEDULERS)}; "
            f"pick one with trainer/scheduler=<name>"
        )
    options, intervals = SCHEDULERS[name]
    unknown = sorted(set(spec) - {"name", "interval", *options})
    if unknown:
        allowed = ", ".join(options) or "none"
        raise ConfigError(
            f"trainer.scheduler.{unknown[0]} is not an option of the {name} scheduler (options: {allowed})"
        )
    interval = spec.get("interval", intervals[0])
    if interval not in intervals:
        raise ConfigError(
            f"trainer.scheduler.interval must be {' or '.join(intervals)} for the {name} scheduler, got {interval!r}"
        )
    key = "trainer.scheduler."
    for option, rule in (
        ("step_size", {"integer": True}),
        ("gamma", {}),
        ("factor", {"below_one": True}),
        ("patience", {"integer": True, "allow_zero": True}),
        ("threshold", {"allow_zero": True}),
        ("min_lr", {"allow_zero": True}),
        ("eta_min", {"allow_zero": True}),
        ("t_max", {"integer": True}),
        ("max_lr", {}),
        ("pct_start", {"below_one": True}),
        ("div_factor", {}),
        ("final_div_factor", {}),
        ("warmup_steps", {"integer": True}),
        ("start_factor", {}),
    ):
        if option in spec and spec[option] is not None:
            _positive(key + option, spec[option], **rule)
    if name == "warmup" and spec.get("start_factor") is not None and spec["start_factor"] > 1:
        raise ConfigError(f"trainer.scheduler.start_factor must be in (0, 1], got {spec['start_factor']}")
    if name == "onecycle" and spec.get("anneal_strategy", "cos") not in ("cos", "linear"):
        raise ConfigError(f"trainer.scheduler.anneal_strategy must be cos or linear, got {spec['anneal_strategy']!r}")


def check_clipping(t: Any) -> None:
    """``trainer.gradient_clip_val`` (null or a bound > 0) and ``trainer.gradient_clip_algorithm``."""
    value = t.get("gradient_clip_val")
    if value is not None:
        _positive("trainer.gradient_clip_val", value)
    algorithm = t.get("gradient_clip_algorithm")
    if algorithm is not None and algorithm not in CLIP_ALGORITHMS:
        raise ConfigError(
            f"trainer.gradient_clip_algorithm must be norm (the gradients' global L2 norm) or value "
            f"(each element), got {algorithm!r}"
        )
    if value is not None and str(t.get("optimizer", "")).startswith("sparse_"):
        raise ConfigError(
            f"trainer.gradient_clip_val does not apply to trainer.optimizer={t.get('optimizer')} (row-sparse "
            f"gradients); use a dense optimizer (adam, adamw, sgd, adagrad) or set trainer.gradient_clip_val=null"
        )


def check_callbacks(t: Any) -> None:
    """``trainer.callbacks``: a list of mappings, each with a ``_target_`` class path (imported later, in the plan)."""
    callbacks = t.get("callbacks")
    if callbacks is None:
        return
    if not isinstance(callbacks, (list, ListConfig)):
        raise ConfigError(
            f"trainer.callbacks must be a list of {{_target_: <class path>, ...}} mappings, got {callbacks!r}"
        )
    for i, entry in enumerate(callbacks):
        if not isinstance(entry, (Mapping, DictConfig)) or not isinstance(entry.get("_target_"), str):
            raise ConfigError(
                f"trainer.callbacks[{i}] must be a mapping with a _target_ class path, e.g. "
                f"{{_target_: lightning.pytorch.callbacks.LearningRateMonitor}}, got {entry!r}"
            )


def check_training_options(cfg: DictConfig) -> None:
    """All three checks over ``cfg.trainer`` (absent keys are fine: their defaults apply)."""
    t = OmegaConf.select(cfg, "trainer", default=None)
    if not isinstance(t, DictConfig):
        return
    check_scheduler(t.get("scheduler"))
    check_clipping(t)
    check_callbacks(t)
