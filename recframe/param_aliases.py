"""Deprecated hyper-parameter names: one declaration per class, resolved in one place.

A registered class (a model, above all) renames a constructor parameter and keeps the old name
working by declaring ``param_aliases = {"old_name": "new_name"}`` as a class attribute. The old name
is then accepted wherever config params reach the class: a YAML preset, a command-line override
(``model.embedding_size=32``), a sweep over it. It is rewritten to the new name before the signature
check, with a ``FutureWarning`` naming the class's config key, the old key and the new key, once per
process. Setting both names at once is a one-line :class:`ConfigError`.

The declaration is read without importing the class when its registry entry is still a lazy target
(a literal dict parsed from the module source), so resolving command-line overrides loads no torch.
"""

from __future__ import annotations

import ast
import importlib.util
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from recframe.errors import ConfigError

_warned: set[tuple[str, str, str]] = set()


def declared_aliases(obj: Any) -> dict[str, str]:
    """``obj``'s ``param_aliases`` (old name -> new name), inherited ones included; ``{}`` if none."""
    aliases = getattr(obj, "param_aliases", None)
    return {str(k): str(v) for k, v in aliases.items()} if isinstance(aliases, Mapping) else {}


def source_aliases(target: str) -> dict[str, str]:
    """The ``param_aliases`` literal of a lazy target's class ``"module:Class"``, parsed from source.

    Only the class's own statement is read (not its bases'); a built-in declares it on each class.
    """
    module_name, _, attribute = target.partition(":")
    try:
        spec = importlib.util.find_spec(module_name)
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            return {}
        with open(spec.origin, encoding="utf-8") as f:
            tree = ast.parse(f.read())
    except Exception:  # an unreadable source has no declaration to offer; the import path still checks
        return {}
    leaf = attribute.rsplit(".", 1)[-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == leaf:
            for stmt in node.body:
                if isinstance(stmt, ast.Assign):
                    targets, expr = stmt.targets, stmt.value
                elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                    targets, expr = [stmt.target], stmt.value
                else:
                    continue
                if any(isinstance(t, ast.Name) and t.id == "param_aliases" for t in targets):
                    try:
                        value = ast.literal_eval(expr)
                    except ValueError:
                        return {}
                    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}
    return {}


def entry_aliases(entry: Any) -> dict[str, str]:
    """The aliases of a registry entry, without importing it while it is lazy."""
    return source_aliases(entry.target) if entry.lazy else declared_aliases(entry.obj)


def _warn_once(kind: str, name: str, old: str, new: str) -> None:
    if (kind, name, old) in _warned:
        return
    _warned.add((kind, name, old))
    warnings.warn(f"{kind}.{old} is deprecated for {kind} '{name}'; use {kind}.{new}", FutureWarning, stacklevel=3)


def resolve_param_aliases(
    factory: Any, kind: str, name: str, params: dict[str, Any], aliases: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """``params`` with every deprecated key of ``factory`` renamed to its new key (warning once each).

    Raises a one-line :class:`ConfigError` when a deprecated key and its new key are both set.
    """
    aliases = declared_aliases(factory) if aliases is None else aliases
    if not aliases or not any(old in params for old in aliases):
        return params
    out = dict(params)
    for old, new in aliases.items():
        if old not in out:
            continue
        if new in out:
            raise ConfigError(
                f"{kind}.{old} and {kind}.{new} are both set for {kind} '{name}'; {kind}.{old} is "
                f"the deprecated name of {kind}.{new}: keep only {kind}.{new}"
            )
        _warn_once(kind, name, old, new)
        out[new] = out.pop(old)
    return out


def _override_key(arg: str) -> str:
    return arg.split("=", 1)[0] if "=" in arg and not arg.startswith(("-", "+", "~")) else ""


def resolve_override_aliases(overrides: Sequence[str]) -> list[str]:
    """Command-line overrides with ``model.<old>=`` rewritten to ``model.<new>=`` for the selected model.

    Only ``model.*`` overrides are looked at; the selected model is found by composing the other
    overrides (once, and only when there is such an override). Anything that cannot be resolved is
    left as it was, for the usual composition errors to report.
    """
    overrides = list(overrides)
    dotted = [i for i, a in enumerate(overrides) if _override_key(a).startswith("model.")]
    if not dotted:
        return overrides
    from omegaconf import OmegaConf

    from recframe import config as rconfig
    from recframe.plugins import registries

    others = [
        a
        for i, a in enumerate(overrides)
        if i not in dotted and ("=" in a or a.startswith("~")) and not a.startswith(("-", "hydra", "+hydra"))
    ]  # config overrides only, not flags or their values
    try:
        name = str(OmegaConf.select(rconfig.compose_plain(others), "model.name"))
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
