"""The plugin system: registries, attribution, errors, allow-lists, lifecycle hooks."""

from __future__ import annotations

import json
import types

import pytest

from recframe import hookimpl, plugins
from recframe.errors import PluginError
from recframe.registry import Registry


def test_registry_resolves_names_and_aliases_case_insensitively():
    reg = Registry("model")
    reg.register("BPR", object, plugin="a", aliases=["mf"])
    assert reg.get("bpr") is object and reg.get("MF") is object and reg.names() == ["bpr"]


def test_unknown_name_lists_options_and_closest_match_in_one_line():
    reg = Registry("model")
    for name in ("bpr", "pop", "ease"):
        reg.register(name, object, plugin="cf")
    with pytest.raises(PluginError) as err:
        reg.get("bprr", config_key="model.name")
    message = str(err.value)
    assert "\n" not in message
    assert "unknown model 'bprr'" in message and "bpr, ease, pop" in message and "did you mean 'bpr'" in message


def test_duplicate_name_names_both_plugins():
    reg = Registry("metric")
    reg.register("ndcg", object, plugin="first")
    with pytest.raises(PluginError, match="by plugin 'first' and by plugin 'second'"):
        reg.register("NDCG", int, plugin="second")


def test_builtins_register_through_the_same_hooks():
    regs = plugins.registries()
    assert {"pop", "bpr"} <= set(regs.model.names())
    assert "ml-100k" in regs.data_source and "random_ratio" in regs.splitter
    assert {"hr", "recall", "precision", "ndcg", "mrr"} <= set(regs.metric.names())
    assert regs.model.entry("bpr").plugin == "cf"
    assert regs.plugins["cf"].builtin and "register_models" in regs.plugins["cf"].hooks


def test_plugin_registered_for_a_test_is_visible_then_gone(recframe_plugin):
    plugin = types.ModuleType("my_plugin")

    @hookimpl
    def register_models(register):
        register("my_model", dict)

    plugin.register_models = register_models
    recframe_plugin(plugin)
    assert plugins.registries().model.entry("my_model").plugin == "my_plugin"
    plugins.unregister_plugin("my_plugin")
    assert "my_model" not in plugins.registries().model


def test_two_plugins_registering_one_name_is_an_error_naming_both(recframe_plugin):
    clash = types.ModuleType("clashing_plugin")
    clash.register_models = hookimpl(lambda register: register("bpr", dict))
    recframe_plugin(clash)
    with pytest.raises(PluginError) as err:
        plugins.registries()
    assert "'cf'" in str(err.value) and "'clashing_plugin'" in str(err.value)


def test_plugin_raising_inside_a_hook_is_named(recframe_plugin):
    def broken(register):
        raise RuntimeError("boom")

    bad = types.ModuleType("broken_plugin")
    bad.register_metrics = hookimpl(broken)
    recframe_plugin(bad)
    with pytest.raises(PluginError, match="plugin 'broken_plugin' failed in hook register_metrics: RuntimeError: boom"):
        plugins.registries()


def test_lifecycle_hooks_see_the_run_and_its_results(recframe_plugin, recframe_run):
    seen = {}

    class Tracker:
        @hookimpl
        def on_run_start(self, run):
            seen["start"] = (run.model.__class__.__name__, run.split.n_items)

        @hookimpl
        def on_run_end(self, run, results):
            seen["end"] = results["metrics"]["test/ndcg@10"]

    recframe_plugin(Tracker(), "tracker")
    results = recframe_run(["model=pop"])
    assert seen["start"] == ("Pop", 40)
    assert seen["end"] == results["metrics"]["test/ndcg@10"]


def test_plugins_command_json_lists_builtins(capsys):
    from recframe.cli import main

    assert main(["plugins", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["cf"]["registered"]["model"][:2] == ["pop", "bpr"]
    assert {"ease", "itemknn", "lightgcn", "multvae", "neumf"} <= set(rows["cf"]["registered"]["model"])
    assert rows["metrics"]["version"] and rows["datasets"]["builtin"] is True


def test_disable_autoload_keeps_builtins(monkeypatch):
    monkeypatch.setenv("RECFRAME_DISABLE_PLUGIN_AUTOLOAD", "1")
    plugins.reset()
    try:
        regs = plugins.registries()
        assert "bpr" in regs.model and all(p.builtin for p in regs.plugins.values())
    finally:
        monkeypatch.delenv("RECFRAME_DISABLE_PLUGIN_AUTOLOAD")
        plugins.reset()
