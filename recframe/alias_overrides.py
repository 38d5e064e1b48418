"""Deprecated ``model.<old>=`` keys in command-line overrides and sweep search spaces, renamed to the new key.

The selected model's ``param_aliases`` (:mod:`recframe.param_aliases`) say which keys are old. This
module composes configs to find the selected model, so it sits above :mod:`recframe.config`; the
alias rules themselves (:mod:`recframe.param_aliases`) import nothing of the core but its errors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from recframe.errors import ConfigError
from recframe.param_aliases import _warn_once, entry_aliases


def _override_key(arg: str) -> str:
    return arg.split("=", 1)[0] if "=" in arg and not arg.startswith(("-", "+", "~")) else ""


def resolve_override_aliases(overrides: Sequence[str], compose: Callable[[list[str]], Any]) -> list[str]:
    """Command-line overrides with ``model.<old>=`` rewritten to ``model.<new>=`` for the selected model.

    Only ``model.*`` overrides are looked at; the selected model is found by composing the other
    overrides (once, and only when one of those keys is an old name of some registered model).
    Anything that cannot be resolved is left as it was, for the usual composition errors to report.
    ``compose`` turns overrides into a config (:func:`recframe.config.compose_plain`), passed in so
    that this module does not import :mod:`recframe.config`, which calls it.
    """
    overrides = list(overrides)
    dotted = [i for i, a in enumerate(overrides) if _override_key(a).startswith("model.")]
    if not dotted:
        return overrides
    from omegaconf import OmegaConf

    from recframe.plugins import registries

    known_old = {old for entry in registries().model for old in entry_aliases(entry)}
    if not any(_override_key(overrides[i])[len("model.") :] in known_old for i in dotted):
        return overrides  # no model declares any of these keys as an old name: nothing to compose for
    others = [
        a
        for i, a in enumerate(overrides)
        if i not in dotted and ("=" in a or a.startswith("~")) and not a.startswith(("-", "hydra", "+hydra"))
    ]  # config overrides only, not flags or their values
    try:
        name = str(OmegaConf.select(compose(others), "model.name"))
        entry = registries().model.entry(name)
    except Exception:  # an unknown model or a bad override: the normal composition reports it
        return overrides
    aliases = entry_aliases(entry)
    if not aliases:
        return overrides
    keys = {_override_key(overrides[i]) for i in dotted}
    for i in dotted:
        key, _, value = overrides[i].partition("=")
        old = key[len("model.") :]
        if old in aliases:
            new = aliases[old]
            if f"model.{new}" in keys:
                raise ConfigError(
                    f"model.{old} and model.{new} are both set for model '{entry.name}'; model.{old} "
                    f"is the deprecated name of model.{new}: keep only model.{new}"
                )
            _warn_once("model", entry.name, old, new)
            overrides[i] = f"model.{new}={value}"
    return overrides


def rename_search_space(space: Any, model_name: str) -> None:
    """Rename deprecated ``model.<old>`` keys of a sweep's search space (a
    :class:`recframe.sweeps.search_space.SearchSpace`) in place, for the selected model."""
    from recframe.plugins import registries

    try:
        aliases = entry_aliases(registries().model.entry(model_name))
    except Exception:  # an unknown model is reported by the run itself
        return
    if not aliases:
        return

    given = {*space.distributions, *(f.split("=", 1)[0] for f in space.fixed)}

    def renamed(key: str) -> str:
        old = key[len("model.") :] if key.startswith("model.") else ""
        if old not in aliases:
            return key
        new = f"model.{aliases[old]}"
        if new in given:
            raise ConfigError(
                f"{key} and {new} are both in the search space of model '{model_name}'; {key} is the "
                f"deprecated name of {new}: keep only {new}"
            )
        _warn_once("model", model_name, old, aliases[old])
        return new

    space.distributions = {renamed(k): v for k, v in space.distributions.items()}
    space.grid = {renamed(k): v for k, v in space.grid.items()}
    space.fixed = [f"{renamed(f.split('=', 1)[0])}={f.split('=', 1)[1]}" if "=" in f else f for f in space.fixed]
