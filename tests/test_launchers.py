"""Multirun launchers: any config sweeps into deterministic folders; joblib and submitit launchers."""

from __future__ import annotations

import json

import pytest
from sweeps_helpers import FAST, load_study, optuna_sweep, recframe_cli


@pytest.mark.slow  # a CLI multirun of several jobs (~13 s)
def test_multirun_over_config_groups_gives_each_job_its_own_folder(tmp_path):
    args = [
        "-m",
        *[a for a in FAST if not a.startswith("data=")],
        "name=grid",
        f"paths.output_dir={tmp_path}",
        "model=bpr,pop",
        "data=synthetic",
        "seed=0,1",
    ]
    assert recframe_cli(args)[0] == 0
    sweep = tmp_path / "multiruns" / "grid"
    found = {}
    for path in sweep.rglob("results.json"):
        r = json.loads(path.read_text())
        found[(r["run"]["model"], r["run"]["seed"])] = path.parent.relative_to(sweep).as_posix()
    assert found == {
        (m, s): f"synthetic/{m}/data_cache=False,logger=none,seed={s}" for m in ("bpr", "pop") for s in (0, 1)
    }
    # the same sweep again lands in the same folders
    assert recframe_cli(args)[0] == 0
    assert len(list(sweep.rglob("results.json"))) == 4


def test_slurm_launcher_config_composes():
    from hydra.core.plugins import Plugins
    from hydra.plugins.launcher import Launcher

    from recframe import config as rconfig

    cfg = rconfig.compose(["hydra/launcher=slurm", "hydra.launcher.partition=gpu", "hydra.launcher.gpus_per_node=1"])
    launcher = cfg.hydra.launcher
    assert launcher._target_ == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    assert (launcher.partition, launcher.gpus_per_node, launcher.timeout_min) == ("gpu", 1, 120)
    assert str(launcher.submitit_folder).endswith("/.submitit/%j")
    classes = {f"{c.__module__}.{c.__name__}" for c in Plugins.instance().discover(Launcher)}
    assert launcher._target_ in classes


def test_joblib_launcher_config_composes():
    from recframe import config as rconfig

    cfg = rconfig.compose(["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"])
    assert cfg.hydra.launcher._target_.endswith("JoblibLauncher") and cfg.hydra.launcher.n_jobs == 2


@pytest.mark.slow
def test_joblib_runs_optuna_trials_in_parallel(tmp_path):
    code, _ = recframe_cli(
        optuna_sweep(
            tmp_path,
            "jl",
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
            "hydra.sweeper.n_jobs=2",
            "hydra.sweeper.n_trials=4",
            "trainer.lr=tag(log,interval(0.001,0.1))",
        )
    )
    assert code == 0
    sweep = tmp_path / "multiruns" / "jl"
    trials = load_study(sweep, "jl").trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 4
    for t in trials:
        results = json.loads((sweep / f"trial_{t.number}" / "results.json").read_text())
        assert t.value == results["metrics"]["valid/ndcg@10"]
    pids = {t.user_attrs["pid"] for t in trials}
    assert len(pids) == 1  # asked by one sweeper; the jobs themselves ran in joblib's workers


@pytest.mark.slow
def test_submitit_local_launcher_runs_jobs(tmp_path):
    args = [
        "-m",
        *FAST,
        "name=sub",
        f"paths.output_dir={tmp_path}",
        "hydra/launcher=submitit_local",
        "hydra.launcher.timeout_min=5",
        "model=bpr,pop",
    ]
    assert recframe_cli(args)[0] == 0
    found = sorted(
        p.parent.relative_to(tmp_path / "multiruns" / "sub").as_posix()
        for p in (tmp_path / "multiruns" / "sub").rglob("results.json")
    )
    assert found == ["synthetic/bpr/data_cache=False,logger=none", "synthetic/pop/data_cache=False,logger=none"]
