"""Fixtures for plugin authors (a pytest plugin, active wherever recframe is installed).

* ``recframe_plugin``: register a plugin object for one test; it is always unregistered after.
* ``tiny_interactions``: a small seeded :class:`~recframe.data.interactions.Interactions`.
* ``recframe_run``: run one short experiment through the real entry point
  (``recframe.run``) in a temporary folder and return its results.

Example::

    def test_my_model(recframe_plugin, recframe_run):
        recframe_plugin(my_plugin_module)
        results = recframe_run(["model=my_model"])
        assert results["metrics"]["test/ndcg@10"] > 0
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def recframe_plugin() -> Iterator[Callable[..., str]]:
    """``register(plugin, name=None) -> name``: the plugin is active until the test ends. A plugin that
    is already registered (an installed plugin, loaded from its entry point) stays as it is."""
    from recframe import plugins

    names: list[str] = []

    def register(plugin: Any, name: str | None = None) -> str:
        if plugins.is_registered(plugin):
            return plugins.register_plugin(plugin, name)
        registered = plugins.register_plugin(plugin, name)
        names.append(registered)
        return registered

    try:
        yield register
    finally:
        for name in reversed(names):
            plugins.unregister_plugin(name)


@pytest.fixture
def tiny_interactions():
    """60 users x 40 items, 10 interactions each, from the built-in ``synthetic`` source."""
    from recframe.plugins import registries  # through the registry: the core never imports a plugin

    return registries().data_source.get("synthetic")().load()


@pytest.fixture
def recframe_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., dict]:
    """``run(overrides) -> results``: one short run on the synthetic data in ``tmp_path``.

    Defaults (overridable): ``data=synthetic``, two epochs, no progress bar, no dataset cache,
    logs off; the run folder is ``tmp_path / "run"``.
    """
    monkeypatch.setenv("RECFRAME_CACHE_DIR", str(tmp_path / "cache"))

    def run(overrides: list[str] | tuple[str, ...] = (), run_dir: str | Path | None = None) -> dict:
        import recframe

        defaults = [
            "data=synthetic",
            "trainer.max_epochs=2",
            "trainer.progress_bar=false",
            "logger=none",
            f"paths.output_dir={tmp_path / 'outputs'}",
        ]
        given = {o.split("=", 1)[0].lstrip("+~") for o in overrides}
        merged = [d for d in defaults if d.split("=", 1)[0] not in given] + list(overrides)
        return recframe.run(merged, run_dir=run_dir or tmp_path / "run")

    return run
