"""Hooks follow pluggy's semantics: lifecycle calls go through ``pm.hook`` (tryfirst/trylast order,
wrappers, argument subsets); contribution hooks reject wrappers; an implementation whose name is no
hook spec is an error naming it; an installed plugin can be handed to the ``recframe_plugin`` fixture."""

from __future__ import annotations

import types
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from recframe import hookimpl, plugins
from recframe.errors import PluginError


@pytest.fixture
def run_stub():
    """A run object as lifecycle hooks see it (config and folder; nothing built)."""
    return types.SimpleNamespace(
        cfg=OmegaConf.create({"name": "t"}), run_dir=Path("."), data=None, split=None, model=None, extra={}
    )


def test_lifecycle_order_is_pluggys_tryfirst_then_plain_then_trylast(recframe_plugin, run_stub):
    calls: list[str] = []

    class Late:
        @hookimpl(trylast=True)
        def on_run_end(self, run, results):
            calls.append("late")

    class Plain:
        @hookimpl
        def on_run_end(self, run, results):
            calls.append("plain")

    class Early:
        @hookimpl(tryfirst=True)
        def on_run_end(self, run, results):
            calls.append("early")

    for name, plugin in [("early", Early()), ("plain", Plain()), ("late", Late())]:  # registered early first
        recframe_plugin(plugin, name)
    plugins.call_lifecycle("on_run_end", run=run_stub, results={})
    assert calls == ["early", "plain", "late"]


def test_a_wrapper_lifecycle_hook_runs_around_the_others(recframe_plugin, run_stub):
    calls: list[str] = []

    class Wrapper:
        @hookimpl(wrapper=True)
        def on_run_end(self, run, results):
            calls.append("before")
            outcome = yield
            calls.append("after")
            return outcome

    class Plain:
        @hookimpl
        def on_run_end(self, run, results):
            calls.append("plain")

    recframe_plugin(Plain(), "plain")
    recframe_plugin(Wrapper(), "wrapper")
    plugins.call_lifecycle("on_run_end", run=run_stub, results={})
    assert calls == ["before", "plain", "after"]


def test_a_hook_may_take_a_subset_of_the_spec_arguments(recframe_plugin, run_stub):
    seen = {}

    class OnlyResults:
        @hookimpl
        def on_run_end(self, results):
            seen["results"] = results

    recframe_plugin(OnlyResults(), "only_results")
    plugins.call_lifecycle("on_run_end", run=run_stub, results={"metrics": {"test/ndcg@10": 0.5}})
    assert seen["results"]["metrics"]["test/ndcg@10"] == 0.5


def test_a_failing_lifecycle_hook_names_its_plugin(recframe_plugin, run_stub):
    class Fine:
        @hookimpl
        def on_run_start(self, run):
            pass

    class Broken:
        @hookimpl
        def on_run_start(self, run):
            raise RuntimeError("tracker offline")

    recframe_plugin(Fine(), "fine")
    recframe_plugin(Broken(), "broken_tracker")
    with pytest.raises(
        PluginError, match="plugin 'broken_tracker' failed in hook on_run_start: RuntimeError: tracker offline"
    ):
        plugins.call_lifecycle("on_run_start", run=run_stub)


def test_a_wrapper_contribution_hook_is_rejected_in_one_line(recframe_plugin):
    class Wrapping:
        @hookimpl(wrapper=True)
        def register_models(self, register):
            yield

    with pytest.raises(PluginError) as err:
        recframe_plugin(Wrapping(), "wrapping")
    message = str(err.value)
    assert "\n" not in message and "plugin 'wrapping'" in message and "register_models" in message
    assert "wrapper" in message
    assert not plugins.plugin_manager().has_plugin("wrapping")


def test_old_style_hookwrapper_contribution_hook_is_rejected(recframe_plugin):
    class OldWrapping:
        @hookimpl(hookwrapper=True)
        def register_metrics(self, register):
            yield

    with pytest.raises(PluginError, match="plugin 'old_wrapping': register_metrics is marked as a wrapper"):
        recframe_plugin(OldWrapping(), "old_wrapping")


def test_an_implementation_with_no_matching_spec_is_an_error_naming_it(recframe_plugin):
    typo = types.ModuleType("typo_plugin")
    typo.register_model = hookimpl(lambda register: register("m", dict))  # register_models, misspelt
    with pytest.raises(PluginError) as err:
        recframe_plugin(typo)
    message = str(err.value)
    assert "\n" not in message
    assert "plugin 'typo_plugin' implements 'register_model', which is no recframe hook" in message
    assert "did you mean 'register_models'" in message
    assert not plugins.plugin_manager().has_plugin("typo_plugin")


def test_an_installed_plugin_handed_to_the_fixture_keeps_its_registration(recframe_plugin):
    import recframe_cf

    assert recframe_plugin(recframe_cf) == "cf"
    assert plugins.registries().model.entry("bpr").plugin == "cf"


def test_lazy_targets_resolve_on_first_use_and_a_broken_one_names_its_plugin(recframe_plugin):
    lazy = types.ModuleType("lazy_plugin")

    @hookimpl
    def register_models(register):
        register("lazy_ok", "collections:OrderedDict")
        register("lazy_missing", "collections:NoSuchThing")

    lazy.register_models = register_models
    recframe_plugin(lazy)
    models = plugins.registries().model
    assert models.entry("lazy_ok").lazy
    from collections import OrderedDict

    assert models.get("lazy_ok") is OrderedDict and not models.entry("lazy_ok").lazy
    with pytest.raises(
        PluginError,
        match="plugin 'lazy_plugin' registered model 'lazy_missing' as "
        "'collections:NoSuchThing', which failed to load: AttributeError",
    ):
        models.get("lazy_missing")


def test_a_string_that_is_no_lazy_target_is_rejected(recframe_plugin):
    bad = types.ModuleType("bad_target_plugin")
    bad.register_losses = hookimpl(lambda register: register("l", "not a target"))
    recframe_plugin(bad)
    with pytest.raises(PluginError, match="must read 'package.module:Attribute'"):
        plugins.registries()


def test_builtin_descriptions_come_from_the_docstrings_without_importing():
    import sys

    entry = plugins.registries().model.entry("ease")
    assert entry.lazy or "recframe_cf.ease" in sys.modules
    assert entry.description and "\n" not in entry.description
