"""Hydra search-path plugin: adds the config folders recframe plugins register.

A plugin that implements ``register_config_dirs`` ships its own config-group files (say
``model/my_model.yaml``); this makes ``model=my_model`` work after ``pip install`` with no file
copied anywhere. It only acts for recframe's own config tree, so other Hydra apps are untouched.
"""

from __future__ import annotations

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin


class RecframeSearchPathPlugin(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        if not any("recframe.conf" in (e.path or "") or "recframe/conf" in (e.path or "")
                   for e in search_path.get_path()):
            return
        from recframe.plugins import registries

        for plugin, path in registries().config_dirs:
            search_path.append(provider=f"recframe-plugin-{plugin}", path=f"file://{path}")
