"""Named registries that plugins fill through the ``register_*`` hooks.

The core owns naming rules: names are case-insensitive, an alias resolves to its entry, two plugins
registering one name is an error naming both, and looking up an unknown name raises a one-line
error listing what exists and the closest match. Names never resolve through ``eval`` or
string-built imports: only what a plugin registered can be built.

A plugin may register a lazy target, ``"package.module:Attribute"``, instead of the object: the module
is imported the first time the object is needed (building it), so listing names, composing a config
and reporting a config error never import a plugin's implementation (and torch with it).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from recframe.errors import PluginError, did_you_mean

KINDS = ("data_source", "filter", "splitter", "model", "loss", "metric", "compressor", "explainer")


_LAZY_TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def is_lazy_target(obj: Any) -> bool:
    """Whether ``obj`` is a lazy target string ``"package.module:Attribute"``."""
    return isinstance(obj, str) and bool(_LAZY_TARGET.match(obj))


@dataclass
class Entry:
    """One registered object: its canonical name, the object (or its lazy target ``"module:Attribute"``,
    imported on first use of :attr:`obj`), and the plugin that registered it."""

    name: str
    target: Any
    plugin: str
    kind: str
    aliases: tuple[str, ...] = ()
    given_description: str = ""
    _resolved: Any = field(default=None, repr=False, compare=False)

    @property
    def lazy(self) -> bool:
        """Registered as ``"module:Attribute"`` and not imported yet."""
        return self._resolved is None and is_lazy_target(self.target)

    @property
    def obj(self) -> Any:
        """The registered object; a lazy target is imported here, once."""
        if not is_lazy_target(self.target):
            return self.target
        if self._resolved is None:
            self._resolved = _import_target(self.target, self.plugin, self.kind, self.name)
        return self._resolved

    @property
    def description(self) -> str:
        """The description given at registration, else the first docstring line of the object; a lazy
        target's docstring is read from its source file, without importing it."""
        if self.given_description:
            return self.given_description
        if self.lazy:
            return _source_doc_line(self.target)
        return _first_doc_line(self.obj)


@dataclass
class Registry:
    """All entries of one kind (e.g. every model), keyed by lower-case name and alias."""

    kind: str
    _entries: dict[str, Entry] = field(default_factory=dict)
    _lookup: dict[str, str] = field(default_factory=dict)

    def register(
        self, name: str, obj: Any, *, plugin: str, aliases: tuple[str, ...] | list[str] = (), description: str = ""
    ) -> Entry:
        """Add ``obj`` under ``name`` (and its aliases) on behalf of ``plugin``."""
        if not isinstance(name, str) or not name.strip():
            raise PluginError(f"plugin '{plugin}' registered a {self.kind} with an empty or non-string name: {name!r}")
        canonical = name.strip().lower()
        if isinstance(obj, str) and not is_lazy_target(obj):
            raise PluginError(
                f"plugin '{plugin}' registered {self.kind} '{name}' as the string {obj!r}; a lazy "
                f"target must read 'package.module:Attribute', or register the object itself"
            )
        entry = Entry(canonical, obj, plugin, self.kind, tuple(a.lower() for a in aliases), description)
        for key in (canonical, *entry.aliases):
            if key in self._lookup:
                other = self._entries[self._lookup[key]]
                raise PluginError(
                    f"{self.kind} name '{key}' is registered twice: by plugin '{other.plugin}' and by plugin "
                    f"'{plugin}'; uninstall one of them or disable it with RECFRAME_LOAD_PLUGINS"
                )
        self._entries[canonical] = entry
        for key in (canonical, *entry.aliases):
            self._lookup[key] = canonical
        return entry

    def entry(self, name: str, *, config_key: str | None = None) -> Entry:
        """The entry for ``name``; an unknown name raises one line listing the options."""
        key = str(name).strip().lower()
        if key not in self._lookup:
            where = f" (config key '{config_key}')" if config_key else ""
            available = ", ".join(sorted(self._entries)) or "none registered"
            raise PluginError(
                f"unknown {self.kind} '{name}'{where}; available: {available}{did_you_mean(key, self._lookup)}"
            )
        return self._entries[self._lookup[key]]

    def get(self, name: str, *, config_key: str | None = None) -> Any:
        """The object registered under ``name`` (see :meth:`entry`)."""
        return self.entry(name, config_key=config_key).obj

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        return str(name).strip().lower() in self._lookup

    def __iter__(self) -> Iterator[Entry]:
        return iter(sorted(self._entries.values(), key=lambda e: e.name))

    def __len__(self) -> int:
        return len(self._entries)


def _import_target(target: str, plugin: str, kind: str, name: str) -> Any:
    module_name, _, attribute = target.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            obj = getattr(obj, part)
    except Exception as exc:  # a broken plugin must name itself and what it registered
        raise PluginError(
            f"plugin '{plugin}' registered {kind} '{name}' as '{target}', which failed to load: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    return obj


def _source_doc_line(target: str) -> str:
    """First docstring line of a lazy target's class or function, parsed from source (no import)."""
    module_name, _, attribute = target.partition(":")
    try:
        spec = importlib.util.find_spec(module_name)
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            return ""
        with open(spec.origin, encoding="utf-8") as f:
            tree = ast.parse(f.read())
    except Exception:  # a description is never worth failing for
        return ""
    leaf = attribute.rsplit(".", 1)[-1]
    for node in ast.walk(tree):
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and node.name == leaf:
            doc = ast.get_docstring(node) or ""
            return doc.strip().splitlines()[0] if doc.strip() else ""
    return ""


def _first_doc_line(obj: Any) -> str:
    doc = getattr(obj, "__doc__", None) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""
