"""A scaling sweep's budget rule and memory prediction: one-line errors before training starts."""

from __future__ import annotations

import json

import pytest
import torch

from recframe.config import compose, validate
from recframe.errors import ConfigError

SMALL = ["data=ml-100k", "model.max_len=20", "trainer.progress_bar=false", "protocol.cutoffs=[10]"]


def _cfg(*overrides: str):
    return compose(["experiment=balance/scaling", *overrides])


def test_the_scaling_sweep_composes_and_passes_its_own_checks():
    cfg = _cfg()
    validate(cfg)
    assert cfg.scaling.budget.rule == "epochs" and cfg.trainer.patience < cfg.trainer.max_epochs


@pytest.mark.parametrize(
    ("experiment", "size_key", "sizes", "lr_patience_epochs"),
    [
        (
            "balance/scaling_ml1m_cpu",
            "scaling_size",
            ["sasrec_xs", "sasrec_s", "sasrec_sm", "sasrec_m", "sasrec_l"],
            (1e-3, 10, 200),
        ),
        ("balance/scaling_bpr_ml1m_cpu", "model.embedding_dim", ["4", "16", "64", "256"], (3e-3, 3, 40)),
    ],
)
def test_the_cpu_sweeps_declare_their_cuts_and_pass_their_own_checks(experiment, size_key, sizes, lr_patience_epochs):
    """The CPU variants keep balance/scaling's protocol and budget rule, change only what they declare
    (max_len, batch; the BPR contrast also lr, patience, epochs), and the smallest and largest swept
    sizes compose and validate."""
    base = compose(["experiment=balance/scaling"])
    for size in (sizes[0], sizes[-1]):
        cfg = compose([f"experiment={experiment}", f"{size_key}={size}"])
        validate(cfg)
        assert cfg.scaling.budget.rule == "epochs" and cfg.trainer.patience < cfg.trainer.max_epochs
        assert cfg.protocol == base.protocol and cfg.metrics == base.metrics
        assert (cfg.trainer.lr, cfg.trainer.patience, cfg.trainer.max_epochs) == lr_patience_epochs
    swept = compose([f"experiment={experiment}"]).hydra.sweeper.params
    assert swept[size_key].split(",") == sizes and swept.seed == "0,1,2"
    if size_key == "scaling_size":
        assert (cfg.model.embedding_dim, cfg.model.num_layers, cfg.model.max_len) == (128, 2, 20)  # sasrec_l, cut
        assert (cfg.trainer.lr, cfg.trainer.patience, cfg.trainer.max_epochs) == (
            base.trainer.lr,
            base.trainer.patience,
            base.trainer.max_epochs,
        )


@pytest.mark.parametrize("experiment", ["balance/scaling_bpr_ml1m", "balance/scaling_bpr_ml1m_cpu"])
def test_the_bpr_contrast_sweeps_train_only_bpr(experiment):
    """The sweep's grid is every swept key's values crossed: each of its jobs must compose to BPR-MF, not
    to a SASRec size inherited from balance/scaling's list of sizes."""
    swept = compose([f"experiment={experiment}"]).hydra.sweeper.params
    assert set(swept) == {"scaling_size", "model.embedding_dim", "seed"}
    for size in str(swept.scaling_size).split(","):
        cfg = compose([f"experiment={experiment}", f"scaling_size={size}", "model.embedding_dim=16"])
        assert cfg.model.name == "bpr" and cfg.model.embedding_dim == 16


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["trainer.max_epochs=5", "trainer.patience=5"], "trainer.patience \\(5\\) >= trainer.max_epochs \\(5\\)"),
        (["scaling.budget.rule=compute"], "scaling.budget.rule must be one of epochs, flops"),
        (["scaling.budget.rule=flops"], "needs scaling.budget.train_flops"),
        (["scaling.budget.rule=flops", "scaling.budget.train_flops=-3"], "positive number"),
        (["scaling.memory_limit_gb=0"], "scaling.memory_limit_gb must be a positive"),
    ],
)
def test_a_budget_rule_that_cannot_be_met_is_one_line(overrides, message):
    with pytest.raises(ConfigError, match=message) as info:
        validate(_cfg(*overrides))
    assert "\n" not in str(info.value)


def test_the_cli_stops_a_bad_sweep_before_its_first_job(tmp_path, capsys, monkeypatch):
    from recframe.cli import main

    monkeypatch.chdir(tmp_path)
    code = main(["experiment=balance/scaling", "trainer.max_epochs=3", "trainer.patience=3"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "can never stop early" in err[0]
    assert not (tmp_path / "outputs").exists()  # no job folder: nothing ran


@pytest.mark.slow
def test_a_size_too_large_for_memory_stops_before_the_model_is_built(tmp_path):
    from recframe.runner import run

    with pytest.raises(ConfigError, match="with 1[0-9]{2},[0-9,]+ parameters needs about .* GiB to train") as info:
        run(
            ["experiment=balance/scaling", "scaling_size=sasrec_xxxl", "scaling.memory_limit_gb=1", *SMALL],
            run_dir=tmp_path,
        )
    assert "scaling.memory_limit_gb" in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "results.json").exists() and not list(tmp_path.rglob("*.ckpt"))


def test_activations_that_do_not_fit_stop_before_training(tmp_path):
    """sasrec_s's ~3e4 parameters fit in 2 MiB; a batch of 4096 sequences' activations do not."""
    from recframe.runner import run

    with pytest.raises(ConfigError, match="GiB of activations a batch of 4096") as info:
        run(
            [
                "experiment=balance/scaling",
                "scaling_size=sasrec_s",
                "scaling.memory_limit_gb=0.002",
                "trainer.batch_size=4096",
                *SMALL,
            ],
            run_dir=tmp_path,
        )
    assert "lower trainer.batch_size" in str(info.value)
    assert not list(tmp_path.rglob("*.ckpt"))


def test_activation_bytes_scale_with_the_batch_and_match_the_saved_tensors():
    """An oracle by hand: a bias-free linear layer and a SiLU save their inputs ``[rows, d_in]``, ``[rows, d_out]``."""
    from recframe.scaling_budget import activation_bytes

    class Tiny(torch.nn.Module):
        trainable = True

        def __init__(self) -> None:
            super().__init__()
            self.embed = torch.nn.Embedding(50, 6)
            self.lin = torch.nn.Linear(6, 4, bias=False)

        def forward(self, batch):
            return {"y": torch.nn.functional.silu(self.lin(self.embed(batch["user"])))}

    def loss(outputs, batch):
        return outputs["y"].sum()

    batch = {"user": torch.arange(16)}
    got = activation_bytes(Tiny(), loss, batch, batch_size=16, rows=8)
    # saved: embedding indices (8 int64), linear input [8, 6] float32, silu input [8, 4] float32; per row x 16
    assert got == (8 * 8 + 8 * 6 * 4 + 8 * 4 * 4) * 16 // 8
    assert activation_bytes(Tiny(), loss, batch, batch_size=32, rows=8) == 2 * got


def test_flops_rule_errors_when_one_epoch_is_over_budget(tmp_path):
    from recframe.runner import run

    with pytest.raises(ConfigError, match="cannot be met by model 'sasrec': one epoch needs"):
        run(
            [
                "experiment=balance/scaling",
                "scaling_size=sasrec_xs",
                "scaling.budget.rule=flops",
                "scaling.budget.train_flops=1000",
                *SMALL,
            ],
            run_dir=tmp_path,
        )
    assert not list(tmp_path.rglob("*.ckpt"))


@pytest.mark.slow
def test_flops_rule_sets_the_epochs_the_budget_pays_for(tmp_path):
    from recframe.runner import run

    common = [
        "experiment=balance/scaling",
        "scaling_size=sasrec_xs",
        "trainer.max_epochs=2",
        "trainer.patience=1",
        *SMALL,
    ]
    probe = run(common, run_dir=tmp_path / "probe")
    per_epoch = probe["cost"]["train_flops_per_epoch"]
    assert probe["cost"]["non_embedding_params"] < probe["cost"]["params"]
    out = run(
        [*common, "scaling.budget.rule=flops", f"scaling.budget.train_flops={3.5 * per_epoch}", "trainer.patience=50"],
        run_dir=tmp_path / "budget",
    )
    assert out["run"]["budget_epochs"] == 3
    assert out["run"]["epochs"] == 3
    assert json.loads((tmp_path / "budget" / "results.json").read_text())["cost"]["train_flops"] == 3 * per_epoch
