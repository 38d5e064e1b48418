"""Config and training mistakes stop with one line naming the key or epoch, never a deep traceback."""

from __future__ import annotations

import types

import pytest
import torch
from torch import nn

from recframe import hookimpl
from recframe.cli import main
from recframe.models import Recommender


def one_line_error(capsys, *args: str) -> str:
    code = main(list(args))
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("error: ") and len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize(
    "args, expected",
    [
        (["model=bprr"], "unknown model 'bprr' (config group 'model'); available: bpr, content_knn,"),
        (["model=bprr"], "; did you mean 'bpr'?"),  # the list's last name changes as models are added
        (["trainer.lrr=0.1"], "unknown config key 'trainer.lrr'; did you mean 'trainer.lr'?"),
        (["trainer.lr=-0.01"], "trainer.lr must be > 0, got -0.01"),
        (["trainer.lr=fast"], "trainer.lr must be a number, got 'fast'"),
        (["trainer.batch_size=1.5"], "trainer.batch_size must be an integer, got 1.5"),
        (["protocol.cutoffs=[10,0]"], "protocol.cutoffs: every cut-off k must be an integer >= 1, got 0"),
        (["protocol.valid_metric=ndcg@7"], "protocol.valid_metric 'ndcg@7' must be <metric>@<k>"),
        (["protocol.split.ratios=[0.8,0.1,0.2]"], "protocol.split.ratios must be non-negative and sum to 1"),
        (["metrics.names=[ndcg,ndgc]", "protocol.valid_metric=ndcg@10", "debug=fast"], "unknown metric 'ndgc'"),
        (["+model.embeding_dim=8", "debug=fast"], "model.embeding_dim is not a parameter of model 'bpr'"),
        (["-m", "model=bpr,bprr"], "unknown model 'bprr'"),
        (["trainer.max_time=00:30:00"], "trainer.max_time must be 'DD:HH:MM:SS' (e.g. '00:00:30:00' for 30 minutes)"),
        (["trainer.max_time=3600"], "in a YAML file quote it"),
        (
            ["explain=null"],
            "explain=null: 'explain' is a config group and takes an option name; to leave it out write ~explain",
        ),
        (
            ["trainer.positive_sampling=items"],
            "trainer.positive_sampling must be one of interactions, users, got 'items'",
        ),
    ],
)
def test_config_mistakes_are_one_line(capsys, args, expected):
    assert expected in one_line_error(capsys, *args)


def test_missing_dataset_says_where_it_looked_and_how_to_get_it(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("RECFRAME_DATA_DIR", str(tmp_path))
    err = one_line_error(capsys, "data=ml-100k", "debug=fast", f"paths.output_dir={tmp_path}")
    assert f"{tmp_path}/ml-100k/u.data" in err and "RECFRAME_DATA_DIR" in err and "recframe download ml-100k" in err


def test_trainer_mistakes_stop_before_any_data_is_read(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("RECFRAME_DATA_DIR", str(tmp_path))  # no dataset here: reading one would fail differently
    err = one_line_error(capsys, "data=ml-100k", "trainer.max_time=1h", f"paths.output_dir={tmp_path}")
    assert "trainer.max_time must be 'DD:HH:MM:SS'" in err


class NaNModel(Recommender):
    """Scores that become NaN: stands for a diverging model."""

    def __init__(self, info, embedding_dim: int = 8) -> None:
        super().__init__(info)
        self.weight = nn.Parameter(torch.ones(self.n_items))

    def score_all(self, users):
        return self.weight.unsqueeze(0).expand(len(users), -1) * torch.nan


def test_nan_loss_names_the_epoch(capsys, recframe_plugin, tmp_path):
    plugin = types.ModuleType("nan_plugin")
    plugin.register_models = hookimpl(lambda register: register("nan_model", NaNModel))
    recframe_plugin(plugin)
    err = one_line_error(
        capsys,
        "data=synthetic",
        "model.name=nan_model",
        "trainer.progress_bar=false",
        "logger=none",
        f"paths.output_dir={tmp_path}",
    )
    assert "loss became nan at epoch 0, batch 0" in err and "trainer.lr" in err


def test_help_lists_every_command(capsys):
    from recframe.cli import SUBCOMMANDS

    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: recframe")
    for name in SUBCOMMANDS:
        assert f"  {name} " in out
