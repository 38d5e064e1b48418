"""The plan check: every name and parameter set is checked before any file is read, and the shared
factory turns only config mistakes into one-line errors."""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch

import recframe
from recframe import hookimpl
from recframe.errors import ConfigError, DataError, PluginError
from recframe.factory import build, check_params

MISSING_DATA = [
    "data=ml-100k",
    "data.path=/nonexistent/recframe-plan-check/ml-100k",
    "trainer.progress_bar=false",
    "logger=none",
]


def test_missing_dataset_alone_is_the_data_error(tmp_path):
    with pytest.raises(DataError, match="dataset 'ml-100k' not found"):
        recframe.run(MISSING_DATA, run_dir=tmp_path)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["model=bpr", "+model.embeding_dim=8"], "model.embeding_dim is not a parameter of model 'bpr'"),
        (["model=ease", "+model.reg=1.0"], "model.reg is not a parameter of model 'ease'"),
        (["+protocol.split.shufle=true"], "protocol.split.shufle is not a parameter of protocol.split"),
        (["model=bpr", "+loss.margn=1.0"], "loss.margn is not a parameter of loss 'bpr'"),
        (["metrics.names=[ndcg,recal]"], "unknown metric 'recal'"),
        (["model.name=bprr"], "unknown model 'bprr'"),
        (["compressor=quantize", "+compressor.bits=4"], "compressor.bits is not a parameter of compressor 'quantize'"),
        (["+data.sepp=x"], "data.sepp is not an option of data source 'ml-100k'"),
        (["protocol.filters=[{name: kcore, kk: 5}]"], "protocol.filters[0].kk is not an option of filter 'kcore'"),
        (["trainer.negative_sampling=popularty"], "trainer.negative_sampling must be one of uniform, popularity"),
    ],
)
def test_a_config_mistake_is_reported_before_the_data_is_read(tmp_path, overrides, message):
    with pytest.raises((ConfigError, PluginError)) as err:
        recframe.run([*MISSING_DATA, *overrides], run_dir=tmp_path)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "results.json").exists()


def test_a_closed_form_model_does_not_check_the_unused_loss(tmp_path):
    # EASE is fitted without an optimiser: its loss group is not part of the plan (no error for it),
    # so the run reaches the data and stops there
    with pytest.raises(DataError):
        recframe.run([*MISSING_DATA, "model=ease", "+loss.margn=1.0"], run_dir=tmp_path)


# --- the shared factory --------------------------------------------------------------------------------


class Validating:
    """Rejects a parameter value itself (a config mistake)."""

    def __init__(self, size: int = 1) -> None:
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        self.size = size


class CallsALibrary:
    """A value numpy rejects deep inside: a bug to show with its traceback, not a config line."""

    def __init__(self, points: int = 2) -> None:
        self.grid = np.linspace(0.0, 1.0, num=points)  # numpy's own Python code raises for num < 0


class Buggy:
    def __init__(self, size: int = 1) -> None:
        self.size = size + "1"  # a TypeError of the plugin's own code


class Needs:
    def __init__(self, info: object, dim: int, depth: int = 1) -> None:
        self.dim = dim


def test_own_value_check_becomes_one_line():
    with pytest.raises(ConfigError, match=r"^model 'v' rejected its config: size must be >= 1, got 0$") as err:
        build(Validating, "model", "v", {"size": 0})
    assert err.value.__cause__ is None


def test_a_failure_inside_a_library_keeps_its_traceback():
    with pytest.raises(ValueError, match="must be non-negative") as err:
        build(CallsALibrary, "model", "lib", {"points": -1})
    assert not isinstance(err.value, ConfigError)
    frames = [tb.tb_frame.f_code.co_name for tb in _frames(err.value.__traceback__)]
    assert "__init__" in frames  # the constructor's frame is still there


def test_a_bug_in_a_constructor_keeps_its_type_and_traceback():
    with pytest.raises(TypeError, match="unsupported operand"):
        build(Buggy, "model", "buggy", {"size": 1})


def test_unknown_and_missing_parameters_are_named():
    with pytest.raises(
        ConfigError,
        match=r"model.dimm is not a parameter of model 'n' \(parameters: dim, depth\); "
        r"did you mean 'dim'\?",
    ):
        check_params(Needs, "model", "n", {"dimm": 3}, 1)
    with pytest.raises(ConfigError, match=r"model 'n' needs model.dim; set model.dim=\.\.\."):
        build(Needs, "model", "n", {"depth": 2}, object())
    assert build(Needs, "model", "n", {"dim": 3}, object()).dim == 3


def test_config_error_passes_through_unchanged():
    class Strict:
        def __init__(self, mode: str = "a") -> None:
            raise ConfigError(f"model.mode must be a or b, got {mode!r}")

    with pytest.raises(ConfigError, match=r"^model.mode must be a or b, got 'c'$"):
        build(Strict, "model", "strict", {"mode": "c"})


def _frames(tb):
    while tb is not None:
        yield tb
        tb = tb.tb_next


# --- metrics: declared inputs and registered names ----------------------------------------------------


def test_metric_inputs_come_from_requires_and_keys_from_the_registered_name(recframe_plugin, tiny_interactions):
    from omegaconf import OmegaConf

    from recframe.api import DatasetInfo, TopKMetric
    from recframe.stages.evaluation import build_metrics

    seen = {}

    class SeenShare(TopKMetric):  # no ``name``: the key must come from the registration
        requires = ("train", "n_items")

        def __init__(self, k, train, n_items, **kwargs):
            super().__init__(k, **kwargs)
            seen.update(train=train, n_items=n_items)

        def per_user(self, hits, n_relevant):
            return hits.double().mean(dim=1)

    plugin = types.ModuleType("seen_share_plugin")
    plugin.register_metrics = hookimpl(lambda register: register("seen_share", SeenShare))
    recframe_plugin(plugin)
    data = tiny_interactions
    info = DatasetInfo(data.n_users, data.n_items, data, np.bincount(data.item, minlength=data.n_items))
    cfg = OmegaConf.create({"metrics": {"names": ["seen_share", "coverage"]}, "protocol": {"cutoffs": [5, 10]}})
    metrics = build_metrics(cfg, info)
    assert list(metrics) == ["seen_share@5", "seen_share@10", "coverage@5", "coverage@10"]
    assert seen["train"] is data and seen["n_items"] == data.n_items
    assert metrics["coverage@10"].n_users == data.n_users  # ListMetric's declared inputs
    torch.testing.assert_close(metrics["coverage@10"].popularity, torch.as_tensor(info.item_popularity).double())


def test_a_metric_requiring_an_unknown_input_is_a_plugin_error(recframe_plugin, tmp_path):
    from recframe.api import TopKMetric

    class Wants(TopKMetric):
        requires = ("user_features",)

    plugin = types.ModuleType("wants_plugin")
    plugin.register_metrics = hookimpl(lambda register: register("wants", Wants))
    recframe_plugin(plugin)
    with pytest.raises(PluginError, match="metric 'wants' .* requires \\['user_features'\\]"):
        recframe.run([*MISSING_DATA, "metrics.names=[ndcg,wants]"], run_dir=tmp_path)
