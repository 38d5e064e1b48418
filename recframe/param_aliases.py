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
from collections.abc import Mapping
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
