"""Named registries that plugins fill through the ``register_*`` hooks.

The core owns naming rules: names are case-insensitive, an alias resolves to its entry, two plugins
registering one name is an error naming both, and looking up an unknown name raises a one-line
error listing what exists and the closest match. Names never resolve through ``eval`` or
string-built imports: only what a plugin registered can be built.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from recframe.errors import PluginError, did_you_mean

KINDS = ("data_source", "splitter", "model", "loss", "metric", "compressor")


@dataclass(frozen=True)
class Entry:
    """One registered object: its canonical name, the object, and the plugin that registered it."""

    name: str
    obj: Any
    plugin: str
    kind: str
    aliases: tuple[str, ...] = ()
    description: str = ""


@dataclass
class Registry:
    """All entries of one kind (e.g. every model), keyed by lower-case name and alias."""

    kind: str
    _entries: dict[str, Entry] = field(default_factory=dict)
    _lookup: dict[str, str] = field(default_factory=dict)

    def register(self, name: str, obj: Any, *, plugin: str, aliases: tuple[str, ...] | list[str] = (),
                 description: str = "") -> Entry:
        """Add ``obj`` under ``name`` (and its aliases) on behalf of ``plugin``."""
        if not isinstance(name, str) or not name.strip():
            raise PluginError(f"plugin '{plugin}' registered a {self.kind} with an empty or non-string name: {name!r}")
        canonical = name.strip().lower()
        entry = Entry(canonical, obj, plugin, self.kind, tuple(a.lower() for a in aliases),
                      description or _first_doc_line(obj))
        for key in (canonical, *entry.aliases):
            if key in self._lookup:
                other = self._entries[self._lookup[key]]
                raise PluginError(
                    f"{self.kind} name '{key}' is registered twice: by plugin '{other.plugin}' and by plugin "
                    f"'{plugin}'; uninstall one of them or disable it with RECFRAME_LOAD_PLUGINS")
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
            raise PluginError(f"unknown {self.kind} '{name}'{where}; available: {available}"
                              f"{did_you_mean(key, self._lookup)}")
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


def _first_doc_line(obj: Any) -> str:
    doc = getattr(obj, "__doc__", None) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""
