"""The small baselines' shipped configs: presets, NCF ML-1M reproductions and their Optuna searches."""

from __future__ import annotations

import pytest
from sweeps_helpers import load_study, read_json, recframe_cli

from recframe import config as rconfig
from recframe.repro import reproductions

MODELS = ["itemknn", "userknn", "p3alpha", "rp3beta", "slim", "puresvd"]


@pytest.mark.parametrize("model", MODELS)
def test_search_composes_with_the_study_ranges_and_a_validation_part(model):
    from recframe.sweeps.settings import check_config

    cfg = rconfig.compose([f"hparams_search={model}_ncf"])
    settings = check_config(cfg, [])
    assert settings is not None and settings.objectives[0].key == "valid/ndcg@10"
    assert cfg.model.name == model and cfg.data.name == "ncf-ml-1m" and cfg.data.valid == "latest"
    assert 35 <= cfg.hydra.sweeper.n_trials <= 50
    names = set(settings.space.distributions)
    assert names and all(name.startswith("model.") for name in names)
    params = set(cfg.model) - {"name"}
    assert {name.removeprefix("model.") for name in names} <= params  # every searched name is a parameter


@pytest.mark.parametrize("model", MODELS)
def test_reproduction_composes_trains_on_the_whole_file_and_shows_neumf_beside_it(model):
    repro = reproductions()[f"ncf_ml1m/{model}"]
    assert set(repro.targets) == {"test/hr@10", "test/ndcg@10"}
    # the study's own per-baseline numbers are not claimed: NeuMF's published values are shown, no verdict
    assert all(t.get("reported") is True and float(t["tolerance"]) == 0.01 for t in repro.targets.values())
    assert [float(repro.targets[k]["published"]) for k in ("test/hr@10", "test/ndcg@10")] == [0.701, 0.425]
    cfg = rconfig.compose([f"experiment=repro/ncf_ml1m/{model}"])
    assert cfg.model.name == model and cfg.data.valid == "none" and cfg.protocol.name == "ncf_loo"


@pytest.mark.slow
@pytest.mark.parametrize("model", ["itemknn", "p3alpha", "puresvd"])
def test_one_trial_of_the_search_runs_on_the_ncf_split(model, tmp_path):
    code, _ = recframe_cli(
        ["-m", f"hparams_search={model}_ncf", "hydra.sweeper.n_trials=1", "logger=none", f"paths.output_dir={tmp_path}"]
    )
    assert code == 0
    sweep = tmp_path / "multiruns" / f"{model}_ncf_tpe"
    results = read_json(sweep / "trial_0" / "results.json")
    assert results["run"]["model"] == model
    assert 0.0 < results["metrics"]["valid/ndcg@10"] <= results["metrics"]["valid/hr@10"] <= 1.0
    study = load_study(sweep, f"{model}_ncf_tpe")
    assert len(study.trials) == 1 and study.trials[0].value == pytest.approx(results["metrics"]["valid/ndcg@10"])
