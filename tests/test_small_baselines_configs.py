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
    assert cfg.model.name == model and cfg.data.name == "ncf-ml-1m" and cfg.data.valid == "random"
    assert 35 <= cfg.hydra.sweeper.n_trials <= 50
    names = set(settings.space.distributions)
    assert names and all(name.startswith("model.") for name in names)
    params = set(cfg.model) - {"name"}
    assert {name.removeprefix("model.") for name in names} <= params  # every searched name is a parameter


#: the study's published HR@10 / NDCG@10 and tuned settings on this split (Ferrari Dacrema et al., RecSys 2019,
#: repository MaurizioFD/RecSys2019_DeepLearning_Evaluation, FULL_RESULTS.md, "WWW: Neural Collaborative Filtering")
STUDY = {
    "itemknn": ((0.6596, 0.3900), {"k": 288, "shrink": 1000, "similarity": "cosine", "feature_weighting": "bm25"}),
    "userknn": ((0.6705, 0.3908), {"k": 800, "shrink": 0, "similarity": "cosine", "feature_weighting": "bm25"}),
    "p3alpha": ((0.6464, 0.3867), {"k": 464, "alpha": 1.5511, "normalize_similarity": True}),
    "rp3beta": ((0.6715, 0.3991), {"k": 494, "alpha": 1.1468, "beta": 0.5613, "normalize_similarity": True}),
    "puresvd": ((0.6896, 0.4294), {"num_factors": 60}),
}


@pytest.mark.parametrize("model", MODELS)
def test_reproduction_carries_the_study_targets_and_trains_on_the_whole_file(model):
    repro = reproductions()[f"ncf_ml1m/{model}"]
    assert set(repro.targets) == {"test/hr@10", "test/ndcg@10"}
    assert all(float(t["tolerance"]) == 0.01 for t in repro.targets.values())
    published = tuple(float(repro.targets[k]["published"]) for k in ("test/hr@10", "test/ndcg@10"))
    cfg = rconfig.compose([f"experiment=repro/ncf_ml1m/{model}"])
    assert cfg.model.name == model and cfg.data.valid == "none" and cfg.protocol.name == "ncf_loo"
    if model == "slim":  # no SLIM row in the study's table for this split: the study's NeuMF, shown only
        assert published == (0.6725, 0.4011) and all(t.get("reported") is True for t in repro.targets.values())
        return
    targets, settings = STUDY[model]
    assert published == targets and not any(t.get("reported") for t in repro.targets.values())
    assert {key: cfg.model[key] for key in settings} == settings


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
