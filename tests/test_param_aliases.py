"""Deprecated hyper-parameter names (``param_aliases``): the old name builds the same model with one
warning, the new name is silent, both at once and typos are one-line errors, and the old name is
accepted on the command line (composition, the pre-run check, sweeps) without importing torch."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from omegaconf import OmegaConf

from recframe import alias_overrides, param_aliases
from recframe import config as rconfig
from recframe.cli import precheck
from recframe.data.interactions import Interactions
from recframe.errors import ConfigError
from recframe.models import DatasetInfo
from recframe.plugins import registries
from recframe.runner import build
from tests.test_fast_start import run_cli


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch):
    monkeypatch.setattr(param_aliases, "_warned", set())


def info(n_users: int = 12, n_items: int = 9) -> DatasetInfo:
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(n_users), 3)
    items = rng.integers(0, n_items, users.size)
    data = Interactions(user=users, item=items, n_users=n_users, n_items=n_items)
    return DatasetInfo(n_users, n_items, data, np.bincount(items, minlength=n_items))


def build_model(name: str, params: dict):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = build(registries().model.get(name), "model", name, params, info())
    return model, [w for w in caught if issubclass(w.category, FutureWarning)]


def test_old_name_builds_the_same_model_and_warns_once():
    old, first = build_model("lightgcn", {"embedding_dim": 8, "n_layers": 3})
    again, second = build_model("lightgcn", {"embedding_dim": 8, "n_layers": 3})
    new, silent = build_model("lightgcn", {"embedding_dim": 8, "num_layers": 3})
    assert [str(w.message) for w in first] == [
        "model.n_layers is deprecated for model 'lightgcn'; use model.num_layers"
    ]
    assert second == [] and silent == []
    assert old.num_layers == again.num_layers == new.num_layers == 3
    assert {k: v.shape for k, v in old.state_dict().items()} == {k: v.shape for k, v in new.state_dict().items()}


def test_embedding_size_is_the_old_name_of_embedding_dim_for_sequential_models():
    model, caught = build_model("sasrec", {"embedding_size": 16, "num_heads": 2, "max_len": 5})
    assert model.embedding_dim == 16 and model.item_embedding.weight.shape[1] == 16
    assert [str(w.message) for w in caught] == [
        "model.embedding_size is deprecated for model 'sasrec'; use model.embedding_dim"
    ]


def test_old_and_new_name_together_is_a_one_line_error():
    with pytest.raises(ConfigError) as err:
        build_model("gru4rec", {"embedding_size": 16, "embedding_dim": 32})
    message = str(err.value)
    assert "\n" not in message
    assert "model.embedding_size and model.embedding_dim are both set for model 'gru4rec'" in message
    assert "keep only model.embedding_dim" in message


def test_a_typo_still_gets_the_did_you_mean():
    with pytest.raises(ConfigError, match=r"model\.num_layrs is not a parameter .*did you mean 'num_layers'"):
        build_model("lightgcn", {"num_layrs": 2})


def test_old_name_on_the_command_line_composes_to_the_new_key():
    with pytest.warns(FutureWarning, match="model.embedding_size is deprecated for model 'sasrec'"):
        cfg = rconfig.compose(["model=sasrec", "model.embedding_size=32"])
    assert cfg.model.embedding_dim == 32 and "embedding_size" not in cfg.model
    preset = OmegaConf.to_container(rconfig.compose(["model=sasrec"]).model)
    assert {**preset, "embedding_dim": 32} == OmegaConf.to_container(cfg.model)


def test_old_name_in_an_experiment_preset_composes_and_builds():
    """A preset that names the old key (here: the new key dropped and the old one added, as a user's
    file written before the rename would compose) builds the model with that value."""
    cfg = rconfig.compose(["experiment=repro/recbole_ml1m/lightgcn", "~model.num_layers", "+model.n_layers=4"])
    params = OmegaConf.to_container(cfg.model, resolve=True)
    name = params.pop("name")
    model, caught = build_model(name, params)
    assert model.num_layers == 4 and len(caught) == 1


def test_the_pre_run_check_accepts_the_old_name_in_fixed_and_sweep_overrides():
    with pytest.warns(FutureWarning):
        precheck(["model=deepfm", "model.embedding_size=8"])
    with pytest.warns(FutureWarning):
        precheck(["-m", "model=sasrec", "model.embedding_size=16,32"])
    assert alias_overrides.resolve_override_aliases(
        ["-m", "model=sasrec", "model.embedding_size=16,32"], rconfig.compose_plain
    ) == [
        "-m",
        "model=sasrec",
        "model.embedding_dim=16,32",
    ]
    with pytest.raises(ConfigError, match="unknown config key 'model.embedding_siz'"):
        precheck(["model=sasrec", "model.embedding_siz=8"])


def test_old_and_new_name_on_the_command_line_is_a_one_line_error():
    with pytest.raises(ConfigError, match="model.embedding_size and model.embedding_dim are both set"):
        alias_overrides.resolve_override_aliases(
            ["model=fm", "model.embedding_size=8", "model.embedding_dim=8"], rconfig.compose_plain
        )


def test_command_line_alias_loads_no_torch():
    child = run_cli(["--cfg", "job", "model=widedeep", "model.embedding_size=24"])
    assert child["rc"] == 0, child
    assert "embedding_dim: 24" in child["stdout"] and "embedding_size" not in child["stdout"]
    assert "model.embedding_size is deprecated for model 'widedeep'" in child["stderr"]
    assert child["heavy"] == []


def test_the_source_declaration_read_without_import_matches_the_class():
    regs = registries()
    found = {}
    for name in regs.model.names():
        entry = regs.model.entry(name)
        if isinstance(entry.target, str):
            found[name] = param_aliases.source_aliases(entry.target)
            assert found[name] == param_aliases.declared_aliases(entry.obj), name
    assert found["lightgcn"] == {"n_layers": "num_layers"}
    assert {n for n, a in found.items() if a.get("embedding_size") == "embedding_dim"} == {
        "fm",
        "deepfm",
        "widedeep",
        "dcnv2",
        "sasrec",
        "gru4rec",
    }


def test_a_sweep_search_space_with_the_old_name_searches_the_new_key():
    from recframe.sweeps.search_space import SearchSpace

    space = SearchSpace(
        distributions={"model.embedding_size": "d1", "trainer.lr": "d2"},
        fixed=["trainer.max_epochs=2"],
        grid={"model.embedding_size": [8, 16]},
    )
    pinned = SearchSpace(fixed=["model.embedding_size=8", "trainer.max_epochs=2"])
    with pytest.warns(FutureWarning, match="model.embedding_size is deprecated for model 'sasrec'"):
        alias_overrides.rename_search_space(space, "sasrec")
    alias_overrides.rename_search_space(pinned, "sasrec")
    assert space.distributions == {"model.embedding_dim": "d1", "trainer.lr": "d2"}
    assert pinned.fixed == ["model.embedding_dim=8", "trainer.max_epochs=2"]
    assert space.grid == {"model.embedding_dim": [8, 16]}
    both = SearchSpace(distributions={"model.n_layers": "d1", "model.num_layers": "d2"})
    with pytest.raises(ConfigError, match="model.n_layers and model.num_layers are both in the search space"):
        alias_overrides.rename_search_space(both, "lightgcn")
