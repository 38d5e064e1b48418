"""Finding, loading and querying plugins.

Built-in plugins are entry points of the ``recframe`` distribution itself and always load. Third-
party plugins load from the same entry-point group, ``recframe``, unless
``RECFRAME_DISABLE_PLUGIN_AUTOLOAD=1``; ``RECFRAME_LOAD_PLUGINS=a,b`` loads only the named ones
(by entry-point or distribution name). Plugin objects registered at run time (tests, notebooks) go
through :func:`register_plugin` / :func:`unregister_plugin`.

Contribution hooks (``register_*``) are called one implementation at a time, each with a ``register``
callback bound to its plugin, so every name is attributed; they cannot be wrappers. Lifecycle hooks
(``on_run_start``, ``on_run_end``) go through pluggy's own call (``pm.hook.<name>``), so ``tryfirst``,
``trylast`` and wrappers behave as pluggy documents. A hook implementation may take any subset of its
spec's arguments. An implementation whose name is no hook spec is an error naming it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pluggy

from recframe import hookspecs
from recframe.errors import PluginError, did_you_mean
from recframe.registry import KINDS, Registry

ENTRY_POINT_GROUP = "recframe"
BUILTIN_DISTRIBUTION = "recframe"
_HOOK_FOR_KIND = {
    "data_source": "register_data_sources",
    "filter": "register_filters",
    "splitter": "register_splitters",
    "model": "register_models",
    "loss": "register_losses",
    "metric": "register_metrics",
    "compressor": "register_compressors",
    "explainer": "register_explainers",
}


@dataclass
class PluginInfo:
    """What ``recframe plugins`` shows about one plugin."""

    name: str
    version: str
    distribution: str
    builtin: bool
    hooks: list[str] = field(default_factory=list)
    registered: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Registries:
    """Every registry, filled from one plugin manager, plus the config dirs plugins ship."""

    by_kind: dict[str, Registry]
    config_dirs: list[tuple[str, Path]]
    plugins: dict[str, PluginInfo]

    def __getattr__(self, kind: str) -> Registry:
        try:
            return self.__dict__["by_kind"][kind]
        except KeyError:
            raise AttributeError(kind) from None


_manager: pluggy.PluginManager | None = None
_plugin_meta: dict[str, PluginInfo] = {}
_registries: Registries | None = None


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _allow_list() -> set[str] | None:
    raw = os.environ.get("RECFRAME_LOAD_PLUGINS")
    if raw is None:
        return None
    return {p.strip().lower() for p in raw.split(",") if p.strip()}


def _entry_points() -> list[metadata.EntryPoint]:
    return sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


def plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, built on first use."""
    global _manager
    if _manager is None:
        _manager = _build_manager()
    return _manager


def _build_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    allow = _allow_list()
    autoload = not _env_flag("RECFRAME_DISABLE_PLUGIN_AUTOLOAD")
    for ep in _entry_points():
        dist_name = ep.dist.name if ep.dist is not None else "?"
        builtin = dist_name.lower() == BUILTIN_DISTRIBUTION
        if not builtin:
            if allow is not None and ep.name.lower() not in allow and dist_name.lower() not in allow:
                continue
            if allow is None and not autoload:
                continue
        try:
            module = ep.load()
        except Exception as exc:  # a broken third-party install must name itself
            raise PluginError(
                f"plugin '{ep.name}' (distribution '{dist_name}') failed to import: {type(exc).__name__}: {exc}"
            ) from exc
        if pm.is_registered(module):
            continue
        _register_checked(pm, module, ep.name)
        _plugin_meta[ep.name] = PluginInfo(ep.name, ep.dist.version if ep.dist else "?", dist_name, builtin)
    return pm


def _register_checked(pm: pluggy.PluginManager, plugin: Any, name: str) -> None:
    """Register ``plugin``; an implementation that matches no hook spec, or a ``register_*`` wrapper, is
    a one-line :class:`PluginError` naming the plugin and the function (the plugin is not kept)."""
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin '{name}': {exc}") from None
    try:
        for caller in pm.get_hookcallers(plugin) or []:
            if caller.spec is None:
                known = [n for n in dir(hookspecs) if n.startswith(("register_", "on_"))]
                raise PluginError(
                    f"plugin '{name}' implements '{caller.name}', which is no recframe hook"
                    f"{did_you_mean(caller.name, known)}; hooks: {', '.join(sorted(known))}"
                )
            if caller.name.startswith("register_"):
                for impl in caller.get_hookimpls():
                    if impl.plugin is plugin and (impl.hookwrapper or impl.wrapper):
                        raise PluginError(
                            f"plugin '{name}': {caller.name} is marked as a wrapper; contribution "
                            f"hooks are called once per plugin, so drop wrapper=True/hookwrapper=True"
                        )
    except PluginError:
        pm.unregister(plugin, name=name)
        raise


def register_plugin(plugin: Any, name: str | None = None) -> str:
    """Register a plugin object (module or instance with hookimpls) in this process and return its name.

    A plugin that is already registered (an installed plugin loaded from its entry point) keeps its
    registration, and its existing name is returned.
    """
    pm = plugin_manager()
    if pm.is_registered(plugin):
        existing = pm.get_name(plugin)
        if existing is not None:
            return existing
    name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
    _register_checked(pm, plugin, name)
    _plugin_meta[name] = PluginInfo(name, str(getattr(plugin, "__version__", "-")), "(registered at run time)", False)
    _invalidate()
    return name


def is_registered(plugin: Any) -> bool:
    """Whether ``plugin`` (the object) is registered with the plugin manager."""
    return plugin_manager().is_registered(plugin)


def unregister_plugin(name: str) -> None:
    """Remove a plugin registered with :func:`register_plugin`."""
    pm = plugin_manager()
    plugin = pm.get_plugin(name)
    if plugin is not None:
        pm.unregister(plugin, name=name)
    _plugin_meta.pop(name, None)
    _invalidate()


def reset() -> None:
    """Forget the plugin manager so the next use rebuilds it from the environment."""
    global _manager
    _manager = None
    _plugin_meta.clear()
    _invalidate()


def _invalidate() -> None:
    global _registries
    _registries = None


def registries() -> Registries:
    """Every registry, filled by calling each plugin's ``register_*`` hooks once."""
    global _registries
    if _registries is None:
        _registries = _collect(plugin_manager())
    return _registries


def _collect(pm: pluggy.PluginManager) -> Registries:
    by_kind = {kind: Registry(kind) for kind in KINDS}
    infos: dict[str, PluginInfo] = {}
    for name, plugin in pm.list_name_plugin():
        meta = _plugin_meta.get(name) or PluginInfo(name, "-", "-", False)
        meta.hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or [])
        meta.registered = {}
        infos[name] = meta
    for kind, hook_name in _HOOK_FOR_KIND.items():
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            plugin_name = impl.plugin_name

            def register(
                name: str,
                obj: Any,
                aliases: tuple[str, ...] | list[str] = (),
                description: str = "",
                _kind: str = kind,
                _plugin: str = plugin_name,
            ) -> None:
                entry = by_kind[_kind].register(name, obj, plugin=_plugin, aliases=aliases, description=description)
                infos[_plugin].registered.setdefault(_kind, []).append(entry.name)

            _call(impl, hook_name, register=register)
    config_dirs: list[tuple[str, Path]] = []
    for impl in pm.hook.register_config_dirs.get_hookimpls():

        def add_dir(path: str | os.PathLike, _plugin: str = impl.plugin_name) -> None:
            p = Path(path)
            if not p.is_dir():
                raise PluginError(f"plugin '{_plugin}' registered config dir '{p}', which is not a directory")
            config_dirs.append((_plugin, p))
            infos[_plugin].registered.setdefault("config_dir", []).append(str(p))

        _call(impl, "register_config_dirs", register=add_dir)
    return Registries(by_kind, config_dirs, infos)


def registry_descriptions(regs: Registries, registered: dict[str, list[str]]) -> dict[str, dict[str, str]]:
    """``{kind: {name: description}}`` for the names one plugin registered (no plugin code imported)."""
    return {
        kind: {name: regs.by_kind[kind].entry(name).description for name in names}
        for kind, names in registered.items()
        if kind in regs.by_kind
    }


def _call(impl: Any, hook_name: str, **kwargs: Any) -> None:
    """Call one contribution hook implementation with the arguments it asks for (a subset is fine)."""
    try:
        impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
    except PluginError:
        raise
    except Exception as exc:
        raise PluginError(
            f"plugin '{impl.plugin_name}' failed in hook {hook_name}: {type(exc).__name__}: {exc}"
        ) from exc


def call_lifecycle(hook_name: str, **kwargs: Any) -> None:
    """Call a lifecycle hook through pluggy (its order, wrappers and argument subsets); a failure names
    the plugin whose implementation raised it."""
    caller = getattr(plugin_manager().hook, hook_name)
    try:
        caller(**kwargs)
    except PluginError:
        raise
    except Exception as exc:
        raise PluginError(
            f"plugin '{_raising_plugin(caller, exc)}' failed in hook {hook_name}: {type(exc).__name__}: {exc}"
        ) from exc


def _raising_plugin(caller: Any, exc: BaseException) -> str:
    """The plugin whose implementation raised ``exc``: the innermost traceback frame of one of them."""
    code_owner = {
        impl.function.__code__: impl.plugin_name
        for impl in caller.get_hookimpls()
        if hasattr(impl.function, "__code__")
    }
    found = "?"
    tb = exc.__traceback__
    while tb is not None:
        found = code_owner.get(tb.tb_frame.f_code, found)
        tb = tb.tb_next
    return found
