"""Hydra search-path plugin: adds the config folders recframe plugins register.

A plugin that implements ``register_config_dirs`` ships its own config-group files (say
``model/my_model.yaml``); this makes ``model=my_model`` work after ``pip install`` with no file
copied anywhere; a registered name with no file at all is an option too (``recframe.unfiled_configs``).
recframe registers the class with Hydra explicitly (editable installs hide
namespace packages from Hydra's own plugin scan), and it acts only for recframe's config tree.
"""

from __future__ import annotations

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin


class RecframeSearchPathPlugin(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        if not any("recframe.conf" in (e.path or "") for e in search_path.get_path()):
            return
        from recframe.plugins import registries
        from recframe.unfiled_configs import store_unfiled_options

        for plugin, path in registries().config_dirs:
            search_path.append(provider=f"recframe-plugin-{plugin}", path=f"file://{path}")
        store_unfiled_options(path for _, path in registries().config_dirs)


def install() -> None:
    """Register the plugin with Hydra once per process."""
    from hydra.core.plugins import Plugins

    plugins = Plugins.instance()
    if RecframeSearchPathPlugin not in plugins.discover(SearchPathPlugin):
        plugins.register(RecframeSearchPathPlugin)
