"""Config-group options for registered names that ship no YAML file.

A plugin that registers a model (or loss, or compressor) need not write ``model/<name>.yaml``:
``model=<name>`` composes to ``{name: <name>}`` plus the constructor's keyword defaults, so
``model.<param>=...`` overrides work as for a filed model. A YAML file, where one exists, wins and only
adds presets. The options are Hydra ConfigStore nodes, refreshed whenever Hydra builds its search path
(so plugins registered at run time are seen, and unregistered ones disappear).

Defaults are read from the constructor only when the registered object is already imported; a lazy
target (``"module:Class"``) gets ``{name: <name>}`` alone, so composing never imports a plugin's code.
"""

from __future__ import annotations

import importlib.resources
import inspect
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# config group -> registry kind of the names it selects
GROUP_KIND = {"model": "model", "loss": "loss", "compressor": "compressor"}
_stored: set[tuple[str, str]] = set()


def _filed_options(group: str, roots: Iterable[Path]) -> set[str]:
    names: set[str] = set()
    for root in roots:
        folder = root / group
        if folder.is_dir():
            names.update(p.stem.lower() for p in folder.glob("*.yaml"))
    return names


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    return False


def signature_defaults(obj: Any) -> dict[str, Any]:
    """Keyword parameters of ``obj``'s constructor whose defaults are plain config values."""
    try:
        params = inspect.signature(obj).parameters.values()
    except (TypeError, ValueError):
        return {}
    out: dict[str, Any] = {}
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.default is p.empty or not _plain(p.default):
            continue
        out[p.name] = list(p.default) if isinstance(p.default, tuple) else p.default
    return out


def store_unfiled_options(plugin_dirs: Iterable[Path]) -> None:
    """Put a ConfigStore node in each group of :data:`GROUP_KIND` for every registered name without a file."""
    from hydra.core.config_store import ConfigStore

    from recframe.plugins import registries

    store = ConfigStore.instance()
    for group, name in list(_stored):  # forget last time's nodes (a plugin may have gone)
        store.repo.get(group, {}).pop(f"{name}.yaml", None)
        _stored.discard((group, name))
    roots = [Path(str(importlib.resources.files("recframe.conf"))), *plugin_dirs]
    regs = registries()
    for group, kind in GROUP_KIND.items():
        filed = _filed_options(group, roots)
        for entry in regs.by_kind[kind]:
            if entry.name in filed:
                continue
            node = {"name": entry.name, **({} if entry.lazy else signature_defaults(entry.obj))}
            store.store(group=group, name=entry.name, node=node, provider=f"recframe-plugin-{entry.plugin}")
            _stored.add((group, entry.name))
