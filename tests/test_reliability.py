"""The fault and bad-input sweep of docs/reliability.md: each case ends in one clear line or a correct result.

Command-line cases run ``recframe`` in this process on the real ML-100K files (``debug=fast``); most stop
before any data is read. Data-file, cache, storage and sweep cases follow.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import torch

from recframe.cli import main
from recframe.errors import ConfigError, DataError

FAST = ["debug=fast", "print_table=false"]
NO_GPU = not torch.cuda.is_available()

CLI_CASES = [
    # trainer values (checked before data)
    (["trainer.batches_per_step=0"], "trainer.batches_per_step must be an integer >= 1"),
    (["trainer.batches_per_step=1.5"], "trainer.batches_per_step must be an integer >= 1"),
    (["trainer.precision=17"], "trainer.precision 17 is not one of 64-true, 32-true"),
    (["trainer.devices=0"], "trainer.devices must be a count >= 1"),
    (["trainer.negative_sampling=bogus"], "trainer.negative_sampling must be one of uniform, popularity"),
    (["trainer.deterministic=maybe"], "trainer.deterministic must be true, false or warn, got 'maybe'"),
    (["trainer.optimizer=bogus"], "trainer.optimizer 'bogus' is not supported"),
    (["trainer.patience=-1"], "trainer.patience must be >= 0, got -1"),
    (["trainer.eval_every=0"], "trainer.eval_every must be >= 1, got 0"),
    (["trainer.batch_size=0"], "trainer.batch_size must be >= 1, got 0"),
    (["trainer.max_epochs=0"], "trainer.max_epochs must be >= 1, got 0"),
    (["trainer.num_negatives=0"], "trainer.num_negatives must be >= 1, got 0"),
    (["trainer.eval_batch_users=0"], "trainer.eval_batch_users must be >= 1, got 0"),
    (["logger.name=bogus"], "logger.name 'bogus' is not one of csv, tensorboard, mlflow, wandb, none"),
    # settings only Lightning knows: one line instead of its traceback
    (["trainer.accelerator=tpu"], "Lightning rejected the trainer settings (trainer.accelerator='tpu'"),
    (["trainer.devices=[0,1]"], "`devices` selected with `CPUAccelerator` should be an int > 0"),
    (["trainer.strategy=bogus"], "You selected an invalid strategy name"),
    (["trainer.limit_train_batches=-1"], "invalid value -1 for limit_train_batches"),
    # protocol values
    (
        ["protocol.ranking=sampled", "protocol.num_candidates=5"],
        "protocol.num_candidates is 5, fewer than the largest cut-off 20",
    ),
    (["protocol.ranking=sampled", "protocol.num_candidates=-3"], "protocol.num_candidates must be an integer >= 1"),
    (["protocol.ranking=bogus"], "protocol.ranking must be 'full', 'sampled' or 'none', got 'bogus'"),
    (["protocol.ties=bogus"], "protocol.ties must be one of pessimistic, optimistic, ncf, torch.topk"),
    (["protocol.split.name=bogus"], "unknown splitter 'bogus' (config key 'protocol.split.name')"),
    (["protocol.split.ratios=[0.5,0.5]"], "protocol.split.ratios needs three parts"),
    (["protocol.cold_fallback=bogus"], "protocol.cold_fallback must be 'error' or 'popularity'"),
    (["protocol.cutoffs=[]"], "protocol.cutoffs must be a non-empty list of integers >= 1"),
    (["metrics.names=[]"], "metrics.names is empty"),
    (["model=pop", "metrics.names=[ndcg,rmse]"], "metrics rmse compare predicted with true ratings, but model 'pop'"),
    (["protocol.filters=[{name:kcore}]"], "protocol.filters[0]: kcore needs k (or user and/or item)"),
    (["protocol.filters=[{name:kcore,k:100000}]"], "protocol.filters[0] (kcore {'k': 100000}) removed every"),
    (
        ["protocol.implicit_threshold=6"],
        "protocol.implicit_threshold=6 (ratings >= 6 are kept) removed every interaction",
    ),
    # data and model choices
    (["data=bogus"], "unknown data 'bogus' (config group 'data')"),
    (["data=table"], "data.path must be set for data source 'table' (e.g. data.path=...)"),
    (["data=recbole"], "data.path must be set for data source 'recbole-atomic'"),
    (["data.path=/nonexistent"], "dataset 'ml-100k' not found: looked for /nonexistent/u.data"),
    (["model.embedding_dim=-1"], "model 'bpr' rejected its config: embedding_dim must be >= 1"),
    (["model=itemknn", "model.k=0"], "model 'itemknn' rejected its config: need k >= 1"),
    (["model=ease", "model.reg=-5"], "unknown config key 'model.reg'"),
    (["seed=-1"], "seed must be >= 0, got -1"),
    (
        ["compressor=prune", "+compressor.from_run=/nonexistent"],
        "compressor.from_run: /nonexistent has no .hydra/config.yaml",
    ),
]
if NO_GPU:
    CLI_CASES.append((["trainer.accelerator=gpu"], "trainer.accelerator=gpu but this machine has no usable CUDA GPU"))


def one_line_error(capsys, args: list[str]) -> str:
    code = main(list(args))
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("error: ") and len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize("args, expected", CLI_CASES, ids=[" ".join(a) for a, _ in CLI_CASES])
def test_cli_case_is_one_line(capsys, tmp_path, ml100k, args, expected):
    assert expected in one_line_error(capsys, [*FAST, *args, f"paths.output_dir={tmp_path}"])


def test_a_data_file_that_is_a_directory_is_named_as_such(capsys, tmp_path):
    (tmp_path / "ml-100k" / "u.data").mkdir(parents=True)
    err = one_line_error(capsys, [*FAST, f"data.path={tmp_path / 'ml-100k'}", f"paths.output_dir={tmp_path}"])
    assert f"{tmp_path / 'ml-100k' / 'u.data'} is a directory, not a data file" in err


def test_from_run_of_a_failed_run_is_refused(capsys, tmp_path):
    from recframe.run_state import write_status

    source = tmp_path / "source"
    (source / ".hydra").mkdir(parents=True)
    (source / ".hydra" / "config.yaml").write_text("seed: 0\n")
    write_status(source, "failed", reason="loss became NaN at epoch 3")
    err = one_line_error(
        capsys, [*FAST, "compressor=prune", f"+compressor.from_run={source}", f"paths.output_dir={tmp_path}"]
    )
    assert "is failed (loss became NaN at epoch 3); compress a complete run" in err


# --- data files --------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["inf", "-inf", "1e30", "-9.3e18"])
def test_timestamps_that_do_not_fit_int64_are_errors_not_int64_min(tmp_path, value):
    from recframe_datasets.generic import Table

    (tmp_path / "r.csv").write_text(f"u,i,t\n1,1,100\n1,2,{value}\n")
    with pytest.raises(DataError) as info:
        Table(tmp_path, file="r.csv", columns={"user": "u", "item": "i", "timestamp": "t"}).load()
    assert f"r.csv, line 3: timestamp '{value}' is not a finite number of seconds within int64 range" in str(info.value)


def test_large_but_valid_timestamps_are_kept(tmp_path):
    from recframe_datasets.generic import Table

    (tmp_path / "r.csv").write_text("u,i,t\n1,1,100\n1,2,4102444800.7\n")
    data = Table(tmp_path, file="r.csv", columns={"user": "u", "item": "i", "timestamp": "t"}).load()
    assert data.timestamp.tolist() == [100, 4102444800]


def test_a_bom_in_a_recbole_header_is_not_part_of_the_first_name(tmp_path):
    from recframe_datasets.recbole import RecBoleAtomic

    folder = tmp_path / "toy"
    folder.mkdir()
    (folder / "toy.inter").write_text(
        "\ufeffuser_id:token\titem_id:token\trating:float\n1\t10\t4\n2\t10\t5\n", encoding="utf-8"
    )
    data = RecBoleAtomic(folder).load()
    assert len(data) == 2 and sorted(map(str, data.user_ids)) == ["1", "2"]


def test_kcore_without_a_threshold_is_an_error_not_a_no_op(tiny):
    from recframe.data.filters import apply_filters

    with pytest.raises(ConfigError, match=r"protocol.filters\[0\]: kcore needs k"):
        apply_filters(tiny, [{"name": "kcore"}])
    assert len(apply_filters(tiny, [{"name": "kcore", "user": 1}])) == len(tiny)


@pytest.fixture
def tiny():
    from recframe.data.interactions import Interactions

    return Interactions(user=np.array([0, 0, 1, 2]), item=np.array([0, 1, 1, 2]), n_users=3, n_items=3)


def test_a_damaged_cache_entry_is_rewritten_once(ml100k, caplog):
    from recframe import paths
    from recframe.data import cache
    from recframe.data.source import load_dataset
    from recframe_datasets.movielens import MovieLens100K

    source = MovieLens100K(ml100k)
    shutil.rmtree(paths.cache_dir() / "datasets", ignore_errors=True)
    load_dataset("ml-100k", source)
    (entry,) = (paths.cache_dir() / "datasets").glob("ml-100k-*")
    (entry / "arrays.npz").write_bytes(b"damaged")
    load_dataset("ml-100k", source)  # a miss: parsed again, and the fresh entry replaces the damaged one
    reread = cache.load(entry)
    assert reread is not None and len(reread) == 100_000
    assert not list(entry.parent.glob(".*.tmp"))


# --- secrets --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("postgresql+psycopg://ann:s3cret@db:5432/studies", "postgresql+psycopg://ann:***@db:5432/studies"),
        ("mysql://u:p%40ss@h/db and again mysql://v:q@h/db", "mysql://u:***@h/db and again mysql://v:***@h/db"),
        (
            "sqlite:///file:/x.db?mode=rwc&password=s3cret&uri=true",
            "sqlite:///file:/x.db?mode=rwc&password=***&uri=true",
        ),
        ("postgresql://ann@db/studies", "postgresql://ann@db/studies"),  # no password: unchanged
        ("sqlite:////tmp/optuna.db", "sqlite:////tmp/optuna.db"),
    ],
)
def test_redact_removes_passwords(text, expected):
    from recframe.redact import redact

    assert redact(text) == expected


def test_storage_errors_never_print_the_password():
    from recframe.sweeps.storage import open_storage

    with pytest.raises(ConfigError) as info:
        open_storage("postgresql+psycopg://ann:s3cret@127.0.0.1:1/none")
    assert "s3cret" not in str(info.value) and "ann:***@" in str(info.value)


@pytest.mark.slow
def test_a_sweep_with_a_password_in_its_storage_url_writes_and_prints_it_nowhere(tmp_path, capsys, monkeypatch):
    from sweeps_helpers import optuna_sweep, recframe_cli

    monkeypatch.delenv("RECFRAME_OPTUNA_STORAGE", raising=False)
    db = tmp_path / "studies.db"
    url = f"sqlite+pysqlite:///file:{db}?mode=rwc&password=s3cret&uri=true"
    code, err = recframe_cli(
        optuna_sweep(
            tmp_path,
            "secret",
            "hydra.sweeper.n_trials=1",
            "hydra.sweeper.sampler=random",
            f"hydra.sweeper.storage='{url}'",
            "trainer.lr=choice(0.01,0.05)",
        ),
        capsys,
    )
    out = capsys.readouterr().out
    assert code == 0, err
    assert "s3cret" not in out + err
    sweep = tmp_path / "multiruns" / "secret"
    written = [p for p in sweep.rglob("*") if p.is_file() and p.suffix in (".yaml", ".json", ".log")]
    assert any(p.name == "multirun.yaml" for p in written) and any(p.parent.name == ".hydra" for p in written)
    for path in written:
        assert "s3cret" not in path.read_text(errors="replace"), path
    assert (sweep / "trial_0" / "results.json").is_file()  # the job reached the storage through the environment
    import optuna

    study = optuna.load_study(study_name="secret", storage=url)
    assert [t.state.name for t in study.trials] == ["COMPLETE"]


@pytest.mark.slow
def test_a_restarted_seeded_sweep_does_not_replay_completed_parameters(tmp_path):
    from sweeps_helpers import load_study, optuna_sweep, recframe_cli

    space = ["hydra.sweeper.sampler=random", "hydra.sweeper.seed=7", "trainer.lr=tag(log,interval(0.001,0.1))"]
    assert recframe_cli(optuna_sweep(tmp_path, "again", "hydra.sweeper.n_trials=2", *space))[0] == 0
    assert recframe_cli(optuna_sweep(tmp_path, "again", "hydra.sweeper.n_trials=4", *space))[0] == 0
    trials = load_study(tmp_path / "multiruns" / "again", "again").trials
    lrs = [t.params["trainer.lr"] for t in trials if t.state.name == "COMPLETE"]
    assert len(lrs) == 4 and len(set(lrs)) == 4  # two new trials, not the first two again


def test_continued_seed_is_the_seed_for_a_new_study_and_moves_on_for_an_old_one(tmp_path):
    import optuna

    from recframe.sweeps.optuna_sweeper import continued_seed

    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'o.db'}")
    assert continued_seed(storage, "s", 3) == 3 and continued_seed(storage, "s", None) is None
    study = optuna.create_study(study_name="s", storage=storage)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    assert continued_seed(storage, "s", 3) == 5


def test_env_storage_reference_needs_the_variable(monkeypatch):
    from recframe.redact import resolve_env

    monkeypatch.delenv("RECFRAME_OPTUNA_STORAGE", raising=False)
    with pytest.raises(ConfigError, match="RECFRAME_OPTUNA_STORAGE, which is not set"):
        resolve_env("env:RECFRAME_OPTUNA_STORAGE")
    monkeypatch.setenv("RECFRAME_OPTUNA_STORAGE", "sqlite:///x.db")
    assert resolve_env("env:RECFRAME_OPTUNA_STORAGE") == "sqlite:///x.db"


def test_unreadable_data_file_is_one_line(tmp_path, ml100k):
    """As root every file is readable; elsewhere a file without read permission is named."""
    from recframe.data.source import load_dataset
    from recframe_datasets.movielens import MovieLens100K

    folder = tmp_path / "ml-100k"
    shutil.copytree(ml100k, folder)
    (folder / "u.data").chmod(0)
    if os.geteuid() == 0:
        assert len(load_dataset("ml-100k", MovieLens100K(folder), use_cache=False)) == 100_000
    else:
        with pytest.raises(DataError, match="u.data cannot be read"):
            load_dataset("ml-100k", MovieLens100K(folder), use_cache=False)


def test_sampled_candidates_fixed_by_the_data_are_checked_against_the_cutoffs():
    from recframe.value_checks import check_sampled_cutoffs

    with pytest.raises(ConfigError, match="the number of candidates per user is 9, fewer than the largest cut-off 10"):
        check_sampled_cutoffs(9, [5, 10], "the number of candidates per user")
    check_sampled_cutoffs(99, [10])
