"""recframe's Optuna sweeper: search space, settings, end-to-end studies, resume, failure, pruning."""

from __future__ import annotations

import os
import subprocess
import sys

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState
from sweeps_helpers import load_study, optuna_sweep, read_json, recframe_cli

from recframe.errors import ConfigError
from recframe.sweeps.objectives import check_keys, parse_objectives, value_of
from recframe.sweeps.samplers import make_pruner, make_sampler
from recframe.sweeps.search_space import parse_search_space

optuna.logging.set_verbosity(optuna.logging.WARNING)


# -- units -----------------------------------------------------------------------------------------


def test_search_space_reads_hydra_sweep_syntax():
    space = parse_search_space(
        {
            "model.embedding_dim": "choice(16, 32, 64)",
            "trainer.num_negatives": "range(1, 5)",
            "trainer.lr": "tag(log, interval(0.0001, 0.1))",
            "trainer.weight_decay": "interval(0, 0.01)",
            "trainer.batch_size": "tag(log, int, interval(16, 256))",
            "trainer.patience": 3,
        },
        cli_overrides=["model.embedding_dim=choice(8,9)"],
    )
    d = space.distributions
    assert d["model.embedding_dim"] == CategoricalDistribution([8, 9])  # the command line wins
    assert d["trainer.num_negatives"] == IntDistribution(1, 4)  # Hydra's range excludes its stop
    assert d["trainer.lr"] == FloatDistribution(0.0001, 0.1, log=True)
    assert d["trainer.weight_decay"] == FloatDistribution(0.0, 0.01)
    assert d["trainer.batch_size"] == IntDistribution(16, 256, log=True)
    assert space.fixed == ["trainer.patience=3"]
    assert space.grid == {"model.embedding_dim": [8, 9], "trainer.num_negatives": [1, 2, 3, 4]}
    params = {
        "model.embedding_dim": 8,
        "trainer.num_negatives": 2,
        "trainer.lr": 0.01,
        "trainer.weight_decay": 0.0,
        "trainer.batch_size": 64,
    }
    assert "trainer.lr=0.01" in space.overrides(params) and "trainer.patience=3" in space.overrides(params)
    assert parse_search_space({"x": "range(0, 1, 0.25)"}).distributions["x"] == FloatDistribution(0.0, 0.75, step=0.25)


@pytest.mark.parametrize(
    "value, message",
    [
        ("tag(cube, interval(1, 2))", "unknown tag 'cube'"),
        ("tag(log, interval(0, 1))", "needs low > 0"),
        ("interval(2, 1)", "needs low < high"),
        ("choice(1,", "cannot parse"),
    ],
)
def test_bad_search_space_is_one_line(value, message):
    with pytest.raises(ConfigError, match=message) as info:
        parse_search_space({"trainer.lr": value})
    assert "\n" not in str(info.value)


def test_objectives_directions_and_keys():
    objs = parse_objectives(["valid/ndcg@10:max", "cost.score_latency_ms_per_1k_users:min"], "ndcg@10")
    assert [(o.key, o.direction) for o in objs] == [
        ("valid/ndcg@10", "maximize"),
        ("cost.score_latency_ms_per_1k_users", "minimize"),
    ]
    assert parse_objectives(None, "recall@20")[0].key == "valid/recall@20"
    with pytest.raises(ConfigError, match="direction 'up' is not"):
        parse_objectives(["valid/ndcg@10:up"], "ndcg@10")
    with pytest.raises(ConfigError, match="did you mean 'valid/ndcg@10'"):
        check_keys(parse_objectives(["valid/ndcg@11"], "ndcg@10"), ["ndcg"], [10])
    results = {"metrics": {"valid/ndcg@10": 0.3}, "cost": {"fit_seconds": 1.5}}
    assert value_of(results, "valid/ndcg@10") == 0.3 and value_of(results, "cost.fit_seconds") == 1.5
    with pytest.raises(KeyError, match="not in the results"):
        value_of(results, "cost.nothing")


def test_samplers_and_pruners_by_name():
    assert type(make_sampler("tpe", 1)).__name__ == "TPESampler"
    assert type(make_sampler({"name": "nsgaii", "population_size": 4}, 1, n_objectives=2)).__name__ == "NSGAIISampler"
    assert type(make_sampler({"_target_": "optuna.samplers.RandomSampler"}, 1)).__name__ == "RandomSampler"
    assert type(make_pruner({"name": "median", "n_startup_trials": 2})).__name__ == "MedianPruner"
    with pytest.raises(ConfigError, match="unknown sampler 'tpee'.*did you mean 'tpe'"):
        make_sampler("tpee", None)
    with pytest.raises(ConfigError, match="n_startup is not an argument of TPESampler"):
        make_sampler({"name": "tpe", "n_startup": 3}, None)
    with pytest.raises(ConfigError, match="cmaes' optimises one objective"):
        make_sampler("cmaes", None, n_objectives=2)


@pytest.mark.parametrize(
    "args, message",
    [
        (["hydra.sweeper.sampler=tpee"], "unknown sampler 'tpee'"),
        (["hydra.sweeper.objectives=[valid/ndcg@10:upward]"], "direction 'upward'"),
        (["hydra.sweeper.objectives=[valid/nope@10:max]"], "objective 'valid/nope@10' is not in the results"),
        (["hydra.sweeper.sampler=grid"], "sampler 'grid' needs choice() or range()"),
        (["trainer.batch_size=choice(0,8)"], "trainer.batch_size must be >= 1"),
    ],
)
def test_cli_rejects_bad_sweeper_settings_in_one_line(tmp_path, capsys, args, message):
    code, err = recframe_cli(optuna_sweep(tmp_path, "bad", "trainer.lr=interval(0.001,0.1)", *args), capsys)
    assert code == 2
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "multiruns").exists()  # nothing ran


# -- end to end ------------------------------------------------------------------------------------


def test_study_results_match_the_jobs(tmp_path):
    code, _ = recframe_cli(
        optuna_sweep(
            tmp_path,
            "e2e",
            "hydra.sweeper.n_trials=3",
            "hydra.sweeper.sampler=random",
            "hydra.sweeper.seed=1",
            "trainer.lr=tag(log,interval(0.001,0.1))",
            "model.embedding_dim=choice(4,8)",
        )
    )
    assert code == 0
    sweep = tmp_path / "multiruns" / "e2e"
    study = load_study(sweep, "e2e")
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 3 == len(study.trials)
    for t in complete:
        results = read_json(sweep / f"trial_{t.number}" / "results.json")
        assert t.value == results["metrics"]["valid/ndcg@10"]
        config = (sweep / f"trial_{t.number}" / ".hydra" / "config.yaml").read_text()
        assert f"embedding_dim: {t.params['model.embedding_dim']}" in config
        assert read_json(sweep / f"trial_{t.number}" / "trial.json")["state"] == "COMPLETE"
    best = max(complete, key=lambda t: t.value)
    summary = read_json(sweep / "optimization_results.json")
    assert summary["best_value"] == best.value and summary["best_params"] == best.params
    assert summary["n_trials"]["complete"] == 3
    assert (sweep / "optimization_results.yaml").is_file()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_restarted_study_continues_without_losing_or_repeating_trials(tmp_path):
    grid = ["hydra.sweeper.sampler=grid", "model.embedding_dim=choice(4,8)", "trainer.lr=choice(0.01,0.05)"]
    assert recframe_cli(optuna_sweep(tmp_path, "resume", "hydra.sweeper.n_trials=2", *grid))[0] == 0
    sweep = tmp_path / "multiruns" / "resume"
    first = {t.number: (t.params, t.value) for t in load_study(sweep, "resume").trials}
    assert len(first) == 2
    # a trial left RUNNING by a sweeper that was killed, on a grid point not yet complete
    study = load_study(sweep, "resume")
    import itertools
    import socket

    todo = [
        p
        for p in itertools.product([4, 8], [0.01, 0.05])
        if p not in {(v[0]["model.embedding_dim"], v[0]["trainer.lr"]) for v in first.values()}
    ]
    study.enqueue_trial({"model.embedding_dim": todo[0][0], "trainer.lr": todo[0][1]})
    stale = study.ask(
        {"model.embedding_dim": CategoricalDistribution([4, 8]), "trainer.lr": CategoricalDistribution([0.01, 0.05])}
    )
    stale.set_user_attr("host", socket.gethostname())
    stale.set_user_attr("pid", _dead_pid())
    assert recframe_cli(optuna_sweep(tmp_path, "resume", "hydra.sweeper.n_trials=4", *grid))[0] == 0
    trials = load_study(sweep, "resume").trials
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 4
    assert len({tuple(sorted(t.params.items())) for t in complete}) == 4  # every grid point once
    assert {t.number: (t.params, t.value) for t in complete if t.number in first} == first  # kept as they were
    assert next(t for t in trials if t.number == stale.number).state == TrialState.FAIL


def test_stale_running_trials_are_failed_and_live_ones_kept(monkeypatch):
    """A sweeper killed between ``ask`` and stamping its pid leaves an unstamped RUNNING trial: failed
    once the grace has passed (else a restarted sweep would wait for it forever); live ones are kept."""
    import socket

    from recframe.sweeps import optuna_sweeper
    from recframe.sweeps.optuna_sweeper import OptunaSweeperImpl

    study = optuna.create_study()
    unstamped = study.ask({"x": FloatDistribution(0, 1)})
    live = study.ask({"x": FloatDistribution(0, 1)})
    live.set_user_attr("host", socket.gethostname())
    live.set_user_attr("pid", os.getpid())
    elsewhere = study.ask({"x": FloatDistribution(0, 1)})
    elsewhere.set_user_attr("host", "another-host")
    elsewhere.set_user_attr("pid", _dead_pid())

    def states() -> list[TrialState]:
        return [t.state for t in study.get_trials(deepcopy=False)]

    OptunaSweeperImpl._fail_stale(study)  # inside the grace: it may still be stamped
    assert states() == [TrialState.RUNNING] * 3
    monkeypatch.setattr(optuna_sweeper, "UNSTAMPED_GRACE_SECONDS", 0.0)
    OptunaSweeperImpl._fail_stale(study)
    assert states() == [TrialState.FAIL, TrialState.RUNNING, TrialState.RUNNING]
    assert "before stamping" in study.trials[0].user_attrs["fail_reason"]


def test_a_failing_trial_is_recorded_and_the_sweep_goes_on(tmp_path):
    code, _ = recframe_cli(
        optuna_sweep(
            tmp_path,
            "fail",
            "hydra.sweeper.n_trials=2",
            "hydra.sweeper.sampler=random",
            "hydra.sweeper.seed=0",
            "hydra.sweeper.max_failures=20",
            "trainer.optimizer=choice(adam,bogus)",
        )
    )
    assert code == 2  # the CLI says some job failed
    trials = load_study(tmp_path / "multiruns" / "fail", "fail").trials
    failed = [t for t in trials if t.state == TrialState.FAIL]
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 2 and failed
    assert all(t.params["trainer.optimizer"] == "bogus" for t in failed)
    assert all(t.params["trainer.optimizer"] == "adam" for t in complete)
    assert all("results.json" in t.user_attrs["fail_reason"] for t in failed)


def test_pruning_callback_prunes_a_bad_trial(tmp_path):
    from recframe.sweeps.pruning import OptunaPruning

    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.MedianPruner(n_startup_trials=1))
    good = study.ask()
    for epoch in range(3):
        good.report(0.5, epoch)
    study.tell(good, 0.5)

    class Trainer:
        sanity_checking, is_global_zero, current_epoch = False, True, 1

        def __init__(self, value):
            self.callback_metrics = {"valid/ndcg@10": value}
            self.strategy = type("S", (), {"broadcast": staticmethod(lambda x: x)})()

    fine = study.ask()
    OptunaPruning(fine, "valid/ndcg@10").on_validation_end(Trainer(0.6), None)  # better than the median
    bad = study.ask()
    with pytest.raises(optuna.TrialPruned, match="pruned at epoch 1"):
        OptunaPruning(bad, "valid/ndcg@10").on_validation_end(Trainer(0.1), None)
    assert study._storage.get_trial(bad._trial_id).intermediate_values == {1: 0.1}


def test_pruned_trials_stop_early_and_are_recorded(tmp_path):
    code, _ = recframe_cli(
        optuna_sweep(
            tmp_path,
            "prune",
            "hydra.sweeper.n_trials=1",
            "hydra.sweeper.max_trials=2",
            "+hydra.sweeper.pruner={name:threshold,lower:0.999}",
            "trainer.max_epochs=5",
            "trainer.lr=tag(log,interval(0.001,0.01))",
        )
    )
    assert code == 0
    sweep = tmp_path / "multiruns" / "prune"
    trials = load_study(sweep, "prune").trials
    assert [t.state for t in trials] == [TrialState.PRUNED, TrialState.PRUNED]
    for t in trials:
        assert list(t.intermediate_values) == [0]  # stopped after the first epoch of 5
        assert read_json(sweep / f"trial_{t.number}" / "trial.json")["state"] == "PRUNED"
        assert not (sweep / f"trial_{t.number}" / "results.json").exists()
    from recframe.sweeps.report import build_report

    assert [j.status for j in build_report(sweep).jobs] == ["pruned", "pruned"]


def test_multi_objective_front_is_the_non_dominated_set(tmp_path):
    journal = tmp_path / "study.log"
    code, _ = recframe_cli(
        optuna_sweep(
            tmp_path,
            "pareto",
            "hydra.sweeper.n_trials=4",
            "hydra.sweeper.sampler=nsgaii",
            "hydra.sweeper.seed=0",
            f"hydra.sweeper.storage={journal}",
            "hydra.sweeper.objectives=[valid/ndcg@10:max,cost.params:min]",
            "model.embedding_dim=choice(2,4,8,16)",
        )
    )
    assert code == 0
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    study = optuna.load_study(study_name="pareto", storage=JournalStorage(JournalFileBackend(str(journal))))
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 4

    def dominated(a, others):
        return any(o[0] >= a[0] and o[1] <= a[1] and o != a for o in others)

    points = [tuple(t.values) for t in complete]
    expected = {t.number for t in complete if not dominated(tuple(t.values), points)}
    summary = read_json(tmp_path / "multiruns" / "pareto" / "optimization_results.json")
    assert {row["number"] for row in summary["pareto_front"]} == expected
    for row in summary["pareto_front"]:
        results = read_json(tmp_path / "multiruns" / "pareto" / f"trial_{row['number']}" / "results.json")
        assert row["values"] == {
            "valid/ndcg@10": results["metrics"]["valid/ndcg@10"],
            "cost.params": results["cost"]["params"],
        }


def test_too_many_failures_stop_the_sweep_in_one_line(tmp_path, capsys):
    code, err = recframe_cli(
        optuna_sweep(
            tmp_path,
            "allfail",
            "hydra.sweeper.n_trials=2",
            "hydra.sweeper.max_failures=1",
            "trainer.optimizer=choice(bogus,wrong)",
        ),
        capsys,
    )
    assert code == 2
    assert "error: 2 trials failed (hydra.sweeper.max_failures=1)" in err and "Traceback" not in err
    trials = load_study(tmp_path / "multiruns" / "allfail", "allfail").trials
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.FAIL]


@pytest.mark.parametrize(
    "search, n_objectives, sampler", [("bpr_ml100k", 1, "tpe"), ("bpr_ml100k_pareto", 2, "nsgaii")]
)
def test_shipped_searches_compose_and_check(search, n_objectives, sampler):
    from recframe import config as rconfig
    from recframe.sweeps.precheck import check_overrides
    from recframe.sweeps.settings import check_config

    cfg = rconfig.compose([f"hparams_search={search}"])
    settings = check_config(cfg, [])
    assert settings is not None and len(settings.objectives) == n_objectives
    assert settings.objectives[0].key == "valid/ndcg@10" and settings.sampler["name"] == sampler
    assert cfg.data.name == "ml-100k" and cfg.model.name == "bpr"
    variants = check_overrides([f"hparams_search={search}"], [], ["-m", f"hparams_search={search}"])
    assert check_overrides([f"hparams_search={search}"], [], [f"hparams_search={search}"]) is None  # not -m
    assert len(variants) >= 2 * len(settings.space.distributions)


def test_shipped_search_runs_and_command_line_overrides_win(tmp_path):
    code, _ = recframe_cli(
        [
            "-m",
            "hparams_search=bpr_ml100k",
            "data=synthetic",
            "hydra.sweeper.n_trials=1",
            "trainer.max_epochs=1",
            "logger=none",
            f"paths.output_dir={tmp_path}",
        ]
    )
    assert code == 0
    trial = tmp_path / "multiruns" / "bpr_ml100k_tpe" / "trial_0"
    assert read_json(trial / "results.json")["run"]["data"] == "synthetic"
    study = load_study(tmp_path / "multiruns" / "bpr_ml100k_tpe", "bpr_ml100k_tpe")
    assert len(study.trials) == 1 and set(study.trials[0].params) == {
        "model.embedding_dim",
        "trainer.lr",
        "trainer.weight_decay",
        "trainer.batch_size",
        "trainer.num_negatives",
    }


@pytest.mark.slow
def test_a_killed_sweep_restarts_where_it_stopped(tmp_path):
    """SIGKILL the sweeper during a trial, run the same command again: exactly n_trials complete."""
    import signal
    import time

    args = [
        a
        for a in optuna_sweep(
            tmp_path,
            "killed",
            "hydra.sweeper.n_trials=4",
            "hydra.sweeper.sampler=grid",
            "model.embedding_dim=choice(4,8)",
            "trainer.lr=choice(0.01,0.05)",
            "trainer.max_epochs=30",
            "trainer.patience=100",
            "trainer.progress_bar=false",
            "trainer.limit_train_batches=1",
        )
        if a != "debug=fast"
    ]
    cmd = [sys.executable, "-m", "recframe.cli", *args]
    sweep = tmp_path / "multiruns" / "killed"
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600  # a guard against a hang, not a speed check: a loaded machine may take minutes
    before: dict = {}
    study = None
    while time.time() < deadline:
        time.sleep(0.3)
        try:
            study = study or load_study(sweep, "killed")
            trials = study.get_trials(deepcopy=False)
        except Exception:  # not created yet (KeyError), or being created
            continue
        if any(t.state == TrialState.COMPLETE for t in trials) and any(t.state == TrialState.RUNNING for t in trials):
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            before = {t.number: t for t in load_study(sweep, "killed").trials}
            break
    assert before, "the sweep never had a complete and a running trial at once"
    running = [n for n, t in before.items() if t.state == TrialState.RUNNING]
    assert subprocess.run(cmd, capture_output=True, timeout=300).returncode == 0
    trials = {t.number: t for t in load_study(sweep, "killed").trials}
    complete = [t for t in trials.values() if t.state == TrialState.COMPLETE]
    assert len(complete) == 4
    assert len({tuple(sorted(t.params.items())) for t in complete}) == 4  # no grid point twice
    for n, t in before.items():
        if t.state == TrialState.COMPLETE:
            assert (trials[n].state, trials[n].params, trials[n].value) == (TrialState.COMPLETE, t.params, t.value)
    assert all(trials[n].state == TrialState.FAIL for n in running)


@pytest.mark.parametrize(
    "sampler, n_objectives",
    [("tpe", 1), ("random", 1), ("cmaes", 1), ("qmc", 1), ({"name": "nsgaii", "population_size": 4}, 2)],
)
def test_every_sampler_drives_an_ask_and_tell_study(sampler, n_objectives):
    import warnings

    space = parse_search_space({"x": "interval(0, 1)", "n": "range(1, 4)"}).distributions
    study = optuna.create_study(
        sampler=make_sampler(sampler, 0, n_objectives=n_objectives), directions=["minimize"] * n_objectives
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # experimental-feature warnings
        for _ in range(8):
            trial = study.ask(space)
            value = (trial.params["x"] - 0.3) ** 2 + trial.params["n"]
            study.tell(trial, [value] * n_objectives if n_objectives > 1 else value)
    trials = study.trials
    assert len(trials) == 8 and all(t.state == TrialState.COMPLETE for t in trials)
    assert all(0 <= t.params["x"] <= 1 and t.params["n"] in (1, 2, 3) for t in trials)
    assert len({t.params["x"] for t in trials}) >= 5  # sampled anew (NSGA-II children may repeat a parent)


@pytest.mark.parametrize(
    "args, message",
    [
        (["-m", "trainer.lr=interval(0.001,0.1)"], "interval() needs the Optuna sweeper"),
        (["-m", "hydra/sweeper=optuna"], "the optuna sweeper has nothing to search"),
        (["-m", "hydra/sweeper=optuna", "trainer.max_epochs=range(0,3)"], "trainer.max_epochs must be >= 1"),
    ],
)
def test_sweep_mistakes_fail_before_anything_runs(tmp_path, capsys, args, message):
    code, err = recframe_cli([*args, "data=synthetic", f"paths.output_dir={tmp_path}"], capsys)
    assert code == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "multiruns").exists()
