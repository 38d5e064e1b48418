"""A plugin written from the docs alone: a registered model needs no YAML file, a YAML file without
``name:`` is a one-line error, ``score_all`` may return numpy, and a model's defaults come from its
constructor."""

from __future__ import annotations

import types

import numpy as np
import pytest

from recframe import config as rconfig
from recframe import hookimpl
from recframe.api import ClosedFormRecommender, DatasetInfo, Interactions
from recframe.errors import ConfigError


class ShrunkPopularity(ClosedFormRecommender):
    """Item popularity shrunk towards the mean: ``(count + prior * mean) / (1 + prior)``, in numpy."""

    def __init__(self, info: DatasetInfo, prior: float = 2.0, top: int | None = None) -> None:
        super().__init__(info)
        self.prior = float(prior)
        self.counts = np.zeros(info.n_items)

    def fit(self, train: Interactions) -> None:
        counts = np.bincount(train.item, minlength=self.n_items).astype(np.float64)
        self.counts = (counts + self.prior * counts.mean()) / (1.0 + self.prior)

    def score_all(self, users):  # numpy out, as a numpy-minded author would write it
        return np.tile(self.counts, (len(users), 1))


@pytest.fixture
def author_plugin(recframe_plugin, tmp_path):
    plugin = types.ModuleType("author_plugin")
    conf = tmp_path / "conf" / "model"
    conf.mkdir(parents=True)
    (conf / "nameless.yaml").write_text("prior: 3.0\n")  # forgot `name:`

    @hookimpl
    def register_models(register):
        register("shrunk_pop", ShrunkPopularity)
        register("nameless", ShrunkPopularity)

    @hookimpl
    def register_config_dirs(register):
        register(tmp_path / "conf")

    plugin.register_models = register_models
    plugin.register_config_dirs = register_config_dirs
    recframe_plugin(plugin)
    return plugin


def test_a_registered_model_without_a_yaml_file_composes_with_its_constructor_defaults(author_plugin):
    cfg = rconfig.compose(["model=shrunk_pop"])
    assert dict(cfg.model) == {"name": "shrunk_pop", "prior": 2.0, "top": None}
    assert rconfig.compose(["model=shrunk_pop", "model.prior=0.5"]).model.prior == 0.5
    with pytest.raises(ConfigError, match="unknown config key 'model.prio'; did you mean 'model.prior'"):
        rconfig.compose(["model=shrunk_pop", "model.prio=0.5"])


def test_a_model_file_without_name_is_a_one_line_error(author_plugin):
    with pytest.raises(ConfigError) as err:
        rconfig.validate(rconfig.compose(["model=nameless"]))
    message = str(err.value)
    assert "\n" not in message
    assert "model/nameless.yaml" in message and "name:" in message


def test_the_unfiled_model_trains_and_its_numpy_scores_are_evaluated(author_plugin, recframe_run, tmp_path):
    results = recframe_run(["model=shrunk_pop", "model.prior=0.0"], run_dir=tmp_path / "shrunk")
    # prior 0: plain popularity, so the metrics equal the built-in Pop's on the same split
    reference = recframe_run(["model=pop"], run_dir=tmp_path / "pop")
    assert results["metrics"]["test/ndcg@10"] > 0
    assert results["metrics"]["test/ndcg@10"] == pytest.approx(reference["metrics"]["test/ndcg@10"], abs=1e-9)


def test_a_plugin_gone_takes_its_unfiled_option_with_it(recframe_plugin):
    plugin = types.ModuleType("short_lived")
    plugin.register_models = hookimpl(lambda register: register("short_lived_model", ShrunkPopularity))
    name = recframe_plugin(plugin)
    assert rconfig.compose(["model=short_lived_model"]).model.name == "short_lived_model"
    from recframe import plugins

    plugins.unregister_plugin(name)
    with pytest.raises(ConfigError, match="unknown model 'short_lived_model'"):
        rconfig.compose(["model=short_lived_model"])
